// The mail log: one line per event on stdout, greppable, in the spirit of
// Postfix: "<time> minimta/<component>: <queue id>: <event>".

export type Logger = (component: string, text: string, id?: string) => void;

export const stdoutLogger: Logger = (component, text, id) => {
  process.stdout.write(`${new Date().toISOString()} minimta/${component}: ${id ? `${id}: ` : ''}${text}\n`);
};

export const silentLogger: Logger = () => {};
