// Upgrading a spool written by the release before the one-file format
// (docs/queue.md, "Upgrading from the directory layout"). That release kept
// each message as a directory, queue/<id>/message and queue/<id>/envelope.json
// (the envelope as it is now, delivered and failed recipients included).
//
// A file cannot be renamed over a directory, so the old directory first moves
// aside to upgrade/<id>/, and the steps are ordered so that a crash anywhere
// leaves the message in one form or the other, never neither, and never both
// where a delivery could see them (RFC 5321 §6.1):
//
//   1. rename queue/<id>/ -> upgrade/<id>/, fsync queue/ and upgrade/
//   2. write tmp/<id>.upgrade (message bytes, envelope line), fdatasync
//   3. rename it to queue/<id>, fsync queue/
//   4. remove upgrade/<id>/, fsync upgrade/
//
// At the next open, upgrade/<id>/ beside a queue/<id> file means step 3 was
// done: the old copy is only removed, so the message is delivered once.

import { closeSync, fdatasyncSync, lstatSync, openSync, writeSync } from 'node:fs';
import { mkdir, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDirectory } from './group-sync.js';
import { isQueueId } from './queue-id.js';
import { CREATE_FLAGS, FILE_MODE, envelopeTrailer, parseEnvelope, readFileSafelySync } from './queue-file.js';
import { SPOOL_CODES, SpoolError } from './spool-error.js';
import { UnsafeSpoolError, directoryProblem } from './spool-safety.js';

const DIR_MODE = 0o700;
const NEWLINE = 0x0a;

export interface UpgradeResult {
  converted: string[];
  /** Left in upgrade/<id>/ for the operator, with why: one bad message must not stop the others. */
  failed: { id: string; error: SpoolError }[];
}

export interface SpoolDirs {
  spool: string;
  tmp: string;
  queue: string;
}

/**
 * Converts every old-layout message of the spool into a queue file and
 * returns the converted ids. Runs before tmp/ is cleaned, so it must not
 * leave anything in tmp/ it needs later. Idempotent: after a crash it finishes
 * what was started.
 */
export async function upgradeLegacyMessages(dirs: SpoolDirs): Promise<UpgradeResult> {
  const aside = join(dirs.spool, 'upgrade');
  // d_type from readdir: no stat per message of a deep queue.
  const old = (await readdir(dirs.queue, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory() && isQueueId(entry.name) && isOurDirectory(join(dirs.queue, entry.name)))
    .map((entry) => entry.name);
  const leftOver = await readdir(aside).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  if (old.length === 0 && leftOver.length === 0) return { converted: [], failed: [] };

  await mkdir(aside, { recursive: true, mode: DIR_MODE });
  const asideStats = lstatSync(aside);
  const problem = directoryProblem(asideStats);
  if (problem) throw new UnsafeSpoolError(`refusing the spool: ${aside} ${problem}`);
  // Step 1 for every message at once: one sync of each directory.
  for (const id of old) await rename(join(dirs.queue, id), join(aside, id));
  await fsyncDirectory(dirs.queue);
  await fsyncDirectory(aside);
  await fsyncDirectory(dirs.spool);

  const result: UpgradeResult = { converted: [], failed: [] };
  for (const id of (await readdir(aside)).sort()) {
    if (!isQueueId(id) || !isOurDirectory(join(aside, id))) {
      result.failed.push({ id, error: new SpoolError(SPOOL_CODES.badId, `spool: upgrade/${id} is not an old-layout message`) });
      continue;
    }
    if (!isFile(join(dirs.queue, id))) {
      try {
        await writeQueueFile(join(aside, id), id, dirs);
      } catch (err) {
        if (err instanceof UnsafeSpoolError) throw err;
        result.failed.push({ id, error: SpoolError.fromFs(err, `convert upgrade/${id}`) });
        continue;
      }
      result.converted.push(id);
    }
    // Only once queue/<id> is durable: the old copy was the message until then.
    await rm(join(aside, id), { recursive: true });
  }
  await fsyncDirectory(aside);
  if (result.failed.length === 0) {
    await rmdir(aside);
    await fsyncDirectory(dirs.spool);
  }
  return result;
}

/** Steps 2 and 3: the queue file from the old directory, made durable under its name. */
async function writeQueueFile(oldDir: string, id: string, dirs: SpoolDirs): Promise<void> {
  // Read as every spool file is: no symbolic link, a regular file of ours with one link.
  const message = readFileSafelySync(join(oldDir, 'message'));
  const env = parseEnvelope(readFileSafelySync(join(oldDir, 'envelope.json')).toString('utf8'), id, `upgrade/${id}/envelope.json`);
  if (env.size !== message.length) {
    throw new SpoolError(SPOOL_CODES.badEnvelope, `spool: bad envelope: upgrade/${id}/message holds ${message.length} bytes, its envelope says ${env.size}`);
  }
  const temporary = join(dirs.tmp, `${id}.upgrade`);
  await rm(temporary, { force: true });
  const fd = openSync(temporary, CREATE_FLAGS, FILE_MODE);
  try {
    writeAll(fd, message);
    writeAll(fd, envelopeTrailer(env, message.length > 0 && message[message.length - 1] === NEWLINE));
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
  await rename(temporary, join(dirs.queue, id));
  await fsyncDirectory(dirs.queue);
}

function writeAll(fd: number, bytes: Buffer): void {
  for (let written = 0; written < bytes.length;) written += writeSync(fd, bytes, written, bytes.length - written);
}

/** A directory we own and no one else may write (lstat: a symbolic link is refused). */
function isOurDirectory(path: string): boolean {
  const stats = lstatSync(path);
  if (!stats.isDirectory()) return false;
  const problem = directoryProblem(stats);
  if (problem) throw new UnsafeSpoolError(`refusing the spool: ${path} ${problem}`);
  return true;
}

function isFile(path: string): boolean {
  try {
    return lstatSync(path).isFile();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
