// The mail log: one line per event on stdout, greppable, in the spirit of
// Postfix: "<time> minimta/<component>: <queue id>: <event>".

import { printable } from './protocol/shared/printable.js';

export type Logger = (component: string, text: string, id?: string) => void;

/** The same log with client text made harmless: no control character or line separator gets in (see printable.ts). */
export function printableLogger(log: Logger): Logger {
  return (component, text, id) => log(component, printable(text), id === undefined ? undefined : printable(id));
}

export const stdoutLogger: Logger = printableLogger((component, text, id) => {
  process.stdout.write(`${new Date().toISOString()} minimta/${component}: ${id ? `${id}: ` : ''}${text}\n`);
});

export const silentLogger: Logger = () => {};
