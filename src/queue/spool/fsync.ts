// Making spool changes durable. A file's data is durable after fsync on the
// file; its name (creation, rename, removal) only after fsync on the directory
// that holds it. RFC 5321 §6.1: once we said 250, a crash must not lose it.

import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
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
