// What a command of the command line works with: its streams, and how its
// errors become a message and an exit code. Commands are plain async
// functions of (args, io) returning the exit code, so tests call them
// directly and capture what they print.
// Exit codes (as main.ts): 0 done, 1 failure at run time, 2 bad usage or config.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../config.js';
import { ControlError } from '../control/control-protocol.js';
import { QUEUE_ADMIN_CODES, QueueAdminError } from '../queue/spool/queue-admin.js';
import { SpoolError, UnsafeSpoolError } from '../queue/spool/spool.js';
import { PrivilegeError } from '../privileges.js';

export interface CommandIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  stdin: AsyncIterable<Buffer | string>;
  /** Bound on each control socket request, in ms (default: control-client's). */
  controlTimeoutMs?: number;
  now?: () => Date;
}

export const processIo: CommandIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin };

/** The command was called wrongly: the message, then the usage, exit 2. */
export class CliUsageError extends Error {
  override name = 'CliUsageError';
}

/** A failure the message explains fully: exit 1, or `exitCode`. */
export class CliFailure extends Error {
  override name = 'CliFailure';
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** Which errors a command reports as a message, and with which exit code; anything else is a bug. */
function exitCodeOf(err: unknown): number | undefined {
  if (err instanceof CliUsageError || err instanceof ConfigError || err instanceof UnsafeSpoolError) return 2;
  if (err instanceof CliFailure) return err.exitCode;
  if (err instanceof QueueAdminError) return err.code === QUEUE_ADMIN_CODES.badId ? 2 : 1;
  if (err instanceof ControlError || err instanceof SpoolError || err instanceof PrivilegeError) return 1;
  return undefined;
}

/**
 * Runs a command body and turns its expected errors into "minimta: NAME: why"
 * on stderr and an exit code; the usage follows a usage error. Unexpected
 * errors are rethrown for main.ts to print with their stack.
 */
export async function runCommand(name: string, usage: string, io: CommandIo, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    const code = exitCodeOf(err);
    if (code === undefined) throw err;
    const message = (err as Error).message;
    io.stderr.write(err instanceof ConfigError || err instanceof UnsafeSpoolError ? `minimta: ${message}\n` : `minimta: ${name}: ${message}\n`);
    if (err instanceof CliUsageError) io.stderr.write(usage);
    return code;
  }
}

/** node:util parseArgs, strict, with its complaints as usage errors. */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: T,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliUsageError((err as Error).message);
  }
}
