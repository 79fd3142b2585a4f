// The mail log: one line per event on stdout, greppable, in the spirit of
// Postfix: "<time> minimta/<component>: <queue id>: <event>".

import { printable } from './protocol/shared/printable.js';

export type Logger = (component: string, text: string, id?: string) => void;

/** The same log with client text made harmless: no control character or line separator gets in (see printable.ts). */
export function printableLogger(log: Logger): Logger {
  return (component, text, id) => log(component, printable(text), id === undefined ? undefined : printable(id));
}

/**
 * Lines logged during one turn of the event loop go out in one write at its
 * end: a busy relay logs several lines per message, and a write per line was
 * one of its largest costs (stdout to a file or a pipe is written
 * synchronously). What is pending is written at exit too.
 */
let pending: string[] = [];
let flushScheduled = false;

function flushLog(): void {
  flushScheduled = false;
  if (pending.length === 0) return;
  const text = pending.join('');
  pending = [];
  process.stdout.write(text);
}

process.on('exit', flushLog);

export const stdoutLogger: Logger = printableLogger((component, text, id) => {
  pending.push(`${new Date().toISOString()} minimta/${component}: ${id ? `${id}: ` : ''}${text}\n`);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flushLog);
  }
});

export const silentLogger: Logger = () => {};
