// `minimta explain CODE|ENHANCED|"REPLY LINE"`: what a reply means, from the
// reply table (src/reply-codes/explain.ts). Exit 0 for a code, 2 for text
// that is not one.

import { CliUsageError, parseCommandArgs, runCommand, type CommandIo } from './command-io.js';
import { ExplainError, explain } from '../reply-codes/index.js';

export const EXPLAIN_USAGE = `usage: minimta explain CODE | ENHANCED-CODE | "REPLY LINE"
  e.g. minimta explain 556
       minimta explain 5.1.10
       minimta explain "556 5.1.10 <a@example.com>: Recipient address rejected"
`;

const OPTIONS = { help: { type: 'boolean', short: 'h' } } as const;

export function explainCommand(args: string[], io: CommandIo): Promise<number> {
  return runCommand('explain', EXPLAIN_USAGE, io, async () => {
    const { values, positionals } = parseCommandArgs(args, OPTIONS);
    if (values.help) {
      io.stdout.write(EXPLAIN_USAGE);
      return 0;
    }
    if (positionals.length === 0) throw new CliUsageError('no code given');
    try {
      io.stdout.write(explain(positionals.join(' ')).map((line) => `${line}\n`).join(''));
    } catch (err) {
      if (err instanceof ExplainError) throw new CliUsageError(err.message);
      throw err;
    }
    return 0;
  });
}
