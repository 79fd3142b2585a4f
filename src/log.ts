// The mail log: one line per event on stdout, greppable, in the spirit of
// Postfix: "<time> minimta/<component>: <queue id>: <event>".
// Under systemd, journald stamps each line itself: `log.timestamps: false`
// drops our time, and the rest of the line keeps its shape. `log.format:
// "json"` (--log-format json) writes one JSON object per line instead, for
// a log shipper: {"time","component","id","text"}.

import { printable } from './protocol/shared/printable.js';

export type Logger = (component: string, text: string, id?: string) => void;

export type LogFormat = 'text' | 'json';

export interface LogStyle {
  /** Put the ISO 8601 time first (text) or in a "time" field (json). */
  timestamps: boolean;
  format: LogFormat;
}

export const DEFAULT_LOG_STYLE: LogStyle = { timestamps: true, format: 'text' };

/** The same log with client text made harmless: no control character or line separator gets in (see printable.ts). */
export function printableLogger(log: Logger): Logger {
  return (component, text, id) => log(component, printable(text), id === undefined ? undefined : printable(id));
}

/** One log line, without its line end. */
export function formatLogLine(style: LogStyle, time: Date, component: string, text: string, id?: string): string {
  if (style.format === 'json') {
    return JSON.stringify({
      ...(style.timestamps ? { time: time.toISOString() } : {}),
      component: `minimta/${component}`,
      ...(id ? { id } : {}),
      text,
    });
  }
  const line = `minimta/${component}: ${id ? `${id}: ` : ''}${text}`;
  return style.timestamps ? `${time.toISOString()} ${line}` : line;
}

/**
 * Lines for stdout logged during one turn of the event loop go out in one
 * write at its end: a busy relay logs several lines per message, and a write
 * per line was one of its largest costs (stdout to a file or a pipe is
 * written synchronously). What is pending is written at exit too.
 */
let stdoutPending: string[] = [];
let stdoutFlushScheduled = false;

function flushStdout(): void {
  stdoutFlushScheduled = false;
  if (stdoutPending.length === 0) return;
  const text = stdoutPending.join('');
  stdoutPending = [];
  process.stdout.write(text);
}

process.on('exit', flushStdout);

const batchedStdout = {
  write(text: string): void {
    stdoutPending.push(text);
    if (!stdoutFlushScheduled) {
      stdoutFlushScheduled = true;
      setImmediate(flushStdout);
    }
  },
};

/** A logger writing lines of the given style to `out` (stdout, in one write per event-loop turn, by default). */
export function streamLogger(style: LogStyle, out: { write(text: string): unknown } = batchedStdout): Logger {
  return printableLogger((component, text, id) => {
    out.write(`${formatLogLine(style, new Date(), component, text, id)}\n`);
  });
}

export const stdoutLogger: Logger = streamLogger(DEFAULT_LOG_STYLE);

export const silentLogger: Logger = () => {};
