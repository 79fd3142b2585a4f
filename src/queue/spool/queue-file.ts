// The queue file: one file per message, readable by a person. It holds the
// message exactly as received (our Received: field on top), then the
// envelope as accepted, as one line of JSON:
//
//   Received: from client.example ([192.0.2.1]) by mx.example ...
//   Subject: hello
//
//   body
//   {"version":1,"id":"0LX7...","sender":"a@example.org","recipients":[...],"size":1234,...}
//
// The envelope comes last because it is complete only at the end of DATA
// (its size), while the message streams to disk as it arrives. JSON never
// holds a raw newline, so the envelope is the file's last line; its `size`
// says where the message ends. A newline is put between the two only when the
// message does not end with one.

import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { validateEnvelope, type Envelope } from './envelope.js';
import { SPOOL_CODES, SpoolError } from './spool-error.js';
import { UnsafeSpoolError, fileProblem } from './spool-safety.js';

const NEWLINE = 0x0a;
/** Enough for the envelope of a message with a few dozen recipients; read again if not. */
const FIRST_TAIL_READ = 4096;
/** A new spool file: never through a symbolic link, never over an existing name; owner only. */
export const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
export const FILE_MODE = 0o600;
/** Opens never follow a symbolic link planted in the spool. */
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW;
/**
 * Reading a file just written would otherwise update its access time: an
 * inode change for the file system's journal on every delivery. Only the
 * file's owner may ask (EPERM otherwise), which spool files are.
 */
const NO_ATIME = constants.O_NOATIME ?? 0;

/** The bytes that end a queue file: a separating newline if the message needs one, then the envelope line. */
export function envelopeTrailer(env: Envelope, messageEndsWithNewline: boolean): Buffer {
  return Buffer.from(`${messageEndsWithNewline ? '' : '\n'}${JSON.stringify(env)}\n`);
}

/** One envelope as a line of its own (a state file). */
export function envelopeLine(env: Envelope): string {
  return `${JSON.stringify(env)}\n`;
}

/** Parses and checks an envelope line; `where` names the file for the error. */
export function parseEnvelope(text: string, id: string, where: string): Envelope {
  try {
    const env = validateEnvelope(JSON.parse(text));
    if (env.id !== id) throw new SpoolError(SPOOL_CODES.badEnvelope, `spool: bad envelope: id is ${env.id}`);
    return env;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new SpoolError(SPOOL_CODES.badEnvelope, `${message} (in ${where})`, { cause: err });
  }
}

/**
 * Opens a spool file for reading as openSpoolFile (spool-safety.ts) does:
 * never through a symbolic link, and only a regular file of ours with one
 * link. Synchronous: microseconds on the page cache (docs/queue.md).
 * Returns the descriptor (the caller closes it) and the file's size.
 */
function openSafelySync(path: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openWithoutAtime(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new UnsafeSpoolError(`refusing the spool file ${path}: it is a symbolic link`);
    throw err;
  }
  try {
    const stats = fstatSync(fd);
    const problem = fileProblem(stats);
    if (problem) throw new UnsafeSpoolError(`refusing the spool file ${path}: it ${problem}; spool files must be regular files of the user minimta runs as`);
    return { fd, size: stats.size };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** A file not ours refuses O_NOATIME (EPERM): opened without it, the ownership check below names the problem. */
function openWithoutAtime(path: string): number {
  try {
    return openSync(path, READ_FLAGS | NO_ATIME);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM' || NO_ATIME === 0) throw err;
    return openSync(path, READ_FLAGS);
  }
}

/** A whole (small) spool file: a state file. */
export function readFileSafelySync(path: string): Buffer {
  const { fd, size } = openSafelySync(path);
  try {
    return readUpTo(fd, size);
  } finally {
    closeSync(fd);
  }
}

/** The first `size` bytes of a queue file (the message), or fewer if the file is shorter. */
export function readPrefixSync(path: string, size: number): Buffer {
  const { fd } = openSafelySync(path);
  try {
    return readUpTo(fd, size);
  } finally {
    closeSync(fd);
  }
}

/** Reads from the start of fd until `size` bytes or the end of the file. */
function readUpTo(fd: number, size: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  let length = 0;
  while (length < size) {
    const n = readSync(fd, bytes, length, size - length, length);
    if (n === 0) break;
    length += n;
  }
  return bytes.subarray(0, length);
}

/**
 * Reads the envelope at the end of a queue file (fs errors are thrown as
 * they come, for the caller to wrap). A file that does not end with a whole
 * envelope line whose size matches is corrupt: EBADENVELOPE.
 */
export function readTrailer(path: string, id: string, where: string): Envelope {
  const { fd, size: fileSize } = openSafelySync(path);
  try {
    for (let want = FIRST_TAIL_READ; ; want *= 4) {
      const length = Math.min(want, fileSize);
      const tail = Buffer.allocUnsafe(length);
      const bytesRead = readSync(fd, tail, 0, length, fileSize - length);
      if (bytesRead !== length || length === 0 || tail[length - 1] !== NEWLINE) {
        throw new SpoolError(SPOOL_CODES.badEnvelope, `spool: bad envelope: ${where} does not end with an envelope line`);
      }
      const lineStart = tail.lastIndexOf(NEWLINE, length - 2) + 1;
      if (lineStart === 0 && length < fileSize) continue; // the line starts further back
      const env = parseEnvelope(tail.toString('utf8', lineStart), id, where);
      const messageEnd = fileSize - (length - lineStart);
      // The message ends where the envelope says, right before the line or its separating newline.
      if (env.size !== messageEnd && env.size !== messageEnd - 1) {
        throw new SpoolError(SPOOL_CODES.badEnvelope, `spool: bad envelope: ${where} holds ${messageEnd} message bytes, the envelope says ${env.size}`);
      }
      return env;
    }
  } finally {
    closeSync(fd);
  }
}
