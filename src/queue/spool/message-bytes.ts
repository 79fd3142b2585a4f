// Reading a queued message's bytes back: for delivery (all of them, as
// they go out), and its header section (to decide on SMTPUTF8, RFC 6531
// §3.4, and for `queue show`). The file is opened as every spool file is
// (spool-safety.ts: no symbolic link, a regular file of ours); its first
// `size` bytes are the message, the envelope line follows (queue-file.ts).

import { readPrefixSync } from './queue-file.js';
import { SPOOL_CODES, SpoolError, fsStep, fsStepSync } from './spool-error.js';
import { openSpoolFile } from './spool-safety.js';

/** How far a look for the end of the header section goes by default. */
export const DEFAULT_HEAD_BYTES = 64 * 1024;
const HEAD_READ_BYTES = 16 * 1024;
/** Chunks of a message read for delivery. */
const MESSAGE_READ_BYTES = 64 * 1024;
/** Messages up to this size are read for delivery in one synchronous read. */
const SMALL_MESSAGE_BYTES = 256 * 1024;
const CRLF = Buffer.from('\r\n');
const EMPTY_LINE = Buffer.from('\r\n\r\n');

/**
 * The first `size` bytes of the file at `path` (`name` in errors): a small
 * message in one synchronous read, a larger one in chunks. A missing file,
 * or one shorter than `size`, shows as an error thrown by the iteration.
 */
export function messageBytes(path: string, size: number, name: string): AsyncIterable<Buffer> {
  return size <= SMALL_MESSAGE_BYTES ? readWhole(path, size, name) : readPrefix(path, size, name);
}

/**
 * The header section (RFC 5322 §2.1): the bytes before the first empty line,
 * so it ends with the CRLF of the last header field; the first `limit`
 * bytes if no empty line comes before them.
 */
export async function headerSection(path: string, limit: number, name: string): Promise<Buffer> {
  const file = await fsStep(`open ${name}`, () => openSpoolFile(path));
  try {
    const head = Buffer.alloc(limit);
    let length = 0;
    while (length < limit) {
      const { bytesRead } = await fsStep(`read ${name}`, () =>
        file.read(head, length, Math.min(HEAD_READ_BYTES, limit - length), null));
      if (bytesRead === 0) break;
      const searchFrom = Math.max(0, length - (EMPTY_LINE.length - 1));
      length += bytesRead;
      const end = headerSectionEnd(head.subarray(0, length), searchFrom);
      if (end >= 0) return Buffer.from(head.subarray(0, end));
    }
    return Buffer.from(head.subarray(0, length));
  } finally {
    await file.close();
  }
}

/** A small message in one synchronous read (microseconds on the page cache). */
async function* readWhole(path: string, size: number, name: string): AsyncGenerator<Buffer> {
  const bytes = fsStepSync(`read ${name}`, () => readPrefixSync(path, size));
  if (bytes.length < size) throw new SpoolError(SPOOL_CODES.badEnvelope, `spool: ${name} is shorter than its envelope says`);
  yield bytes;
}

/** The first `size` bytes of a file, in chunks of at most MESSAGE_READ_BYTES. */
async function* readPrefix(path: string, size: number, name: string): AsyncGenerator<Buffer> {
  const file = await fsStep(`open ${name}`, () => openSpoolFile(path));
  try {
    for (let position = 0; position < size;) {
      const chunk = Buffer.allocUnsafe(Math.min(MESSAGE_READ_BYTES, size - position));
      const { bytesRead } = await fsStep(`read ${name}`, () => file.read(chunk, 0, chunk.length, position));
      if (bytesRead === 0) throw new SpoolError(SPOOL_CODES.badEnvelope, `spool: ${name} is shorter than its envelope says`);
      position += bytesRead;
      yield chunk.subarray(0, bytesRead);
    }
  } finally {
    await file.close();
  }
}

/** Index just past the CRLF ending the last header field, or -1 while no empty line is seen. */
function headerSectionEnd(buf: Buffer, searchFrom: number): number {
  if (buf.length >= CRLF.length && buf.subarray(0, CRLF.length).equals(CRLF)) return 0;
  const at = buf.indexOf(EMPTY_LINE, searchFrom);
  return at < 0 ? -1 : at + CRLF.length;
}
