// Making spool changes durable. A file's data is durable after fsync on the
// file; its name (creation, rename, removal) only after fsync on the directory
// that holds it. RFC 5321 §6.1: once we said 250, a crash must not lose it.

import { constants } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { openSpoolFile } from './spool-safety.js';

/** Flushes a directory's entries (new, renamed or removed names) to disk. */
export async function fsyncDir(path: string): Promise<void> {
  const dir = await open(path, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

const OPEN_FLAGS = {
  w: constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC,
  wx: constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
} as const;

/**
 * Writes a new file and flushes its data to disk. `flags` is 'wx' for a file
 * that must not exist yet, 'w' to replace one; either way never through a
 * symbolic link (spool-safety.ts). The caller fsyncs the directory.
 */
export async function writeFileDurably(path: string, data: string | Buffer, flags: 'w' | 'wx'): Promise<void> {
  const file = await openSpoolFile(path, OPEN_FLAGS[flags]);
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
}

/**
 * Puts `prefix` in front of a file's bytes, durably: the result is written to
 * a new file beside it, flushed, and renamed over it. The caller fsyncs the
 * directory. Used for header fields computed only once the message is
 * complete (a DKIM-Signature).
 */
export async function prependDurably(path: string, prefix: Buffer): Promise<void> {
  const next = `${path}.prefixed`;
  const source = await openSpoolFile(path);
  try {
    const target = await openSpoolFile(next, OPEN_FLAGS.wx);
    try {
      await target.write(prefix);
      const chunk = Buffer.alloc(64 * 1024);
      for (;;) {
        const { bytesRead } = await source.read(chunk, 0, chunk.length, null);
        if (bytesRead === 0) break;
        await target.write(chunk, 0, bytesRead);
      }
      await target.sync();
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
  await rename(next, path);
}
