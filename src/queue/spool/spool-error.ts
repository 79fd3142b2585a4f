// The one error type of the spool. It carries the reply the SMTP server sends
// when a message cannot be stored (RFC 5321 §4.2.2, §6.1): 452 4.3.1 when the
// disk or quota is full (a client may retry later with the same message),
// 451 4.3.0 for any other storage failure. Either way the client keeps the
// message, so nothing is lost.

import { ReplyError, reply } from '../../reply-codes/index.js';

/**
 * Codes of our own, beside the fs codes (ENOSPC, EACCES, ENOENT, ENOTDIR …)
 * passed through from the underlying error.
 */
export const SPOOL_CODES = {
  /** A string that is not a queue id was given where an id was expected. */
  badId: 'EBADID',
  /** An envelope that is not valid JSON or does not have the Envelope shape. */
  badEnvelope: 'EBADENVELOPE',
  /** A receipt used after commit() or abort(). */
  closed: 'ECLOSED',
  /** A spool directory or file not ours alone (spool-safety.ts). */
  unsafe: 'EUNSAFE',
} as const;

const STORAGE_FULL_CODES: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT']);

export class SpoolError extends ReplyError {
  /** The disk or the quota is full: worth answering 452 4.3.1 rather than 451 4.3.0. */
  readonly storageFull: boolean;

  constructor(
    /** An fs error code (ENOSPC, EACCES …) or one of SPOOL_CODES. */
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    const storageFull = STORAGE_FULL_CODES.has(code);
    super(reply(storageFull ? 'insufficientStorage' : 'storageError'));
    this.name = 'SpoolError';
    this.message = message;
    this.storageFull = storageFull;
    if (options?.cause !== undefined) this.cause = options.cause;
  }

  /** Wraps what an fs call threw; `doing` says what we were at, e.g. "write tmp/X/message". */
  static fromFs(err: unknown, doing: string): SpoolError {
    if (err instanceof SpoolError) return err;
    const code = typeof (err as NodeJS.ErrnoException)?.code === 'string'
      ? (err as NodeJS.ErrnoException).code as string
      : 'EUNKNOWN';
    const detail = err instanceof Error ? err.message : String(err);
    return new SpoolError(code, `spool: cannot ${doing}: ${detail}`, { cause: err });
  }
}

/** Runs one fs step, turning its failure into a SpoolError that says which step. */
export async function fsStep<T>(doing: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw SpoolError.fromFs(err, doing);
  }
}

/** fsStep for a synchronous step. */
export function fsStepSync<T>(doing: string, run: () => T): T {
  try {
    return run();
  } catch (err) {
    throw SpoolError.fromFs(err, doing);
  }
}
