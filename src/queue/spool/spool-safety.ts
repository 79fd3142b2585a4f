// Who may change the spool. What is in the spool is read, delivered, shown
// and bounced by us, often as root: whoever can write into it can make us
// mail out any file we can read (a planted queue/<id> -> /etc/shadow)
// or write through a planted link. So, as Postfix does with its queue:
// - the spool and every directory in it must belong to the user we run as
//   and be writable by no one else; the relay and the queue commands check
//   this before they use a spool, and refuse it otherwise;
// - every spool file is opened without following a symbolic link
//   (O_NOFOLLOW) and, once open, must be a regular file of ours with a single
//   link (fstat): a hard link to a file elsewhere is refused too.

import fs, { constants, type ReadStream, type Stats } from 'node:fs';
import { lstat, open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { SPOOL_CODES, SpoolError } from './spool-error.js';

/** The spool cannot be trusted: the operator must fix it (exit 2, like a config error). */
export class UnsafeSpoolError extends SpoolError {
  constructor(message: string) {
    super(SPOOL_CODES.unsafe, message);
    this.name = 'UnsafeSpoolError';
  }
}

/** Group or others may create, rename or remove entries. */
const WRITABLE_BY_OTHERS = 0o022;

/** The user we run as: the spool must be theirs. */
export function runningUid(): number {
  return process.geteuid?.() ?? 0;
}

/** Why a directory of the spool cannot be trusted, or undefined. */
export function directoryProblem(stats: Stats, uid: number = runningUid()): string | undefined {
  if (stats.isSymbolicLink()) return 'is a symbolic link';
  if (!stats.isDirectory()) return 'is not a directory';
  if (stats.uid !== uid) return `is owned by uid ${stats.uid}, not by uid ${uid} that minimta runs as`;
  if ((stats.mode & WRITABLE_BY_OTHERS) !== 0) {
    return `is writable by group or others (mode ${(stats.mode & 0o7777).toString(8).padStart(4, '0')})`;
  }
  return undefined;
}

/** Why an open spool file cannot be trusted, or undefined. */
export function fileProblem(stats: Stats, uid: number = runningUid()): string | undefined {
  if (!stats.isFile()) return 'is not a regular file';
  if (stats.uid !== uid) return `is owned by uid ${stats.uid}, not by uid ${uid} that minimta runs as`;
  // More than one link: maybe a link to a file elsewhere. None: replaced or
  // removed since we opened it (a rename over it, a delivery finishing); what
  // we read is the version that was there, as without this check.
  if (stats.nlink > 1) return `has ${stats.nlink} hard links`;
  return undefined;
}

function refusal(path: string, problem: string): UnsafeSpoolError {
  return new UnsafeSpoolError(
    `refusing the spool: ${path} ${problem}; the spool and every directory in it must belong to the user minimta runs as and be writable by no one else`,
  );
}

function fileRefusal(path: string, problem: string): UnsafeSpoolError {
  return new UnsafeSpoolError(
    `refusing the spool file ${path}: it ${problem}; spool files must be regular files of the user minimta runs as`,
  );
}

/**
 * Refuses (UnsafeSpoolError naming the path) a spool that is not ours alone:
 * the spool directory, tmp/, queue/, state/ and every entry of tmp/. The spool
 * path itself may be a symbolic link that we (or root) own, to a directory
 * that passes. What does not exist yet is no danger: the caller creates it,
 * or says it is missing.
 */
export async function checkSpoolOwnership(dir: string, uid: number = runningUid()): Promise<void> {
  const top = await lstatIfAny(dir);
  if (!top) return;
  if (top.isSymbolicLink()) {
    if (top.uid !== uid && top.uid !== 0) throw refusal(dir, `is a symbolic link owned by uid ${top.uid}`);
    const target = await stat(dir);
    const problem = directoryProblem(target, uid);
    if (problem) throw refusal(dir, `(through its symbolic link) ${problem}`);
  } else {
    const problem = directoryProblem(top, uid);
    if (problem) throw refusal(dir, problem);
  }
  for (const sub of ['tmp', 'queue', 'state']) {
    const path = join(dir, sub);
    const stats = await lstatIfAny(path);
    if (!stats) continue;
    const problem = directoryProblem(stats, uid);
    if (problem) throw refusal(path, problem);
  }
  // tmp/ holds only what we create there. queue/ and state/ hold only files,
  // each checked as it is opened (openSpoolFile), so a queue of 100 000
  // messages is not walked twice at start.
  const tmp = join(dir, 'tmp');
  for (const name of await readdir(tmp).catch(() => [])) {
    const entry = await lstatIfAny(join(tmp, name));
    if (entry && (entry.isDirectory() || entry.isSymbolicLink())) {
      const entryProblem = directoryProblem(entry, uid);
      if (entryProblem) throw refusal(join(tmp, name), entryProblem);
    }
  }
}

async function lstatIfAny(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Opens a spool file without following a symbolic link, and checks that what
 * was opened is a regular file of ours with one link. `flags` are the other
 * open(2) flags (fs.constants). UnsafeSpoolError naming the path otherwise.
 */
export async function openSpoolFile(path: string, flags: number = constants.O_RDONLY, mode = 0o600): Promise<FileHandle> {
  let file: FileHandle;
  try {
    file = await open(path, flags | constants.O_NOFOLLOW, mode);
  } catch (err) {
    if (isNoFollowRefusal(err)) throw fileRefusal(path, 'is a symbolic link');
    throw err;
  }
  const problem = fileProblem(await file.stat().catch(async (err: unknown) => { await file.close(); throw err; }));
  if (problem) {
    await file.close();
    throw fileRefusal(path, problem);
  }
  return file;
}

/** O_NOFOLLOW on a symbolic link fails with ELOOP (EMLINK on FreeBSD). */
function isNoFollowRefusal(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ELOOP' || code === 'EMLINK';
}

/**
 * openSpoolFile's checks in the callback form a read stream's `fs` option
 * takes, so the stream stays an ordinary fs.ReadStream (its buffering and
 * back-pressure), and a refusal shows as the stream's 'error'.
 */
const checkedOpen = (path: string, _flags: unknown, _mode: unknown, done: (err: Error | null, fd?: number) => void): void => {
  fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW, (openErr, fd) => {
    if (openErr) return done(isNoFollowRefusal(openErr) ? fileRefusal(path, 'is a symbolic link') : openErr);
    fs.fstat(fd, (statErr, stats) => {
      const problem = statErr ? undefined : fileProblem(stats);
      if (!statErr && !problem) return done(null, fd);
      fs.close(fd, () => done(statErr ?? fileRefusal(path, problem!)));
    });
  });
};

/** A read stream of a spool file, opened as openSpoolFile opens one. */
export function createSpoolReadStream(path: string): ReadStream {
  return fs.createReadStream(path, { fs: { open: checkedOpen, read: fs.read, close: fs.close } });
}

/** What `minimta check` found wrong with one path of the spool. */
export interface SpoolFinding {
  level: 'error' | 'warning';
  path: string;
  problem: string;
}

/**
 * Every problem of the spool, not only the first (for `minimta check`):
 * the rule of checkSpoolOwnership for every directory at any depth; every
 * file a regular file of `uid` with one link, and every entry private
 * (mode bits for group or others are a warning: queued mail is private).
 * Walks the whole tree, so it is for the operator's command, not the start-up.
 */
export async function spoolFindings(dir: string, uid: number = runningUid()): Promise<SpoolFinding[]> {
  const findings: SpoolFinding[] = [];
  const top = await lstatIfAny(dir);
  if (!top) return findings;
  const root = top.isSymbolicLink() ? await stat(dir) : top;
  if (top.isSymbolicLink() && top.uid !== uid && top.uid !== 0) {
    findings.push({ level: 'error', path: dir, problem: `is a symbolic link owned by uid ${top.uid}` });
  }
  await walk(dir, root, uid, findings);
  return findings;
}

async function walk(path: string, stats: Stats, uid: number, findings: SpoolFinding[]): Promise<void> {
  const problem = stats.isDirectory() ? directoryProblem(stats, uid)
    : stats.isFile() ? fileProblem(stats, uid) ?? writableProblem(stats)
    : stats.isSocket() ? (stats.uid === uid ? undefined : `is owned by uid ${stats.uid}, not by uid ${uid} that minimta runs as`)
    : stats.isSymbolicLink() ? 'is a symbolic link'
    : 'is not a file, a directory or the control socket';
  if (problem) findings.push({ level: 'error', path, problem });
  else if ((stats.mode & 0o077) !== 0 && !stats.isSocket()) {
    findings.push({ level: 'warning', path, problem: `can be read by group or others (mode ${(stats.mode & 0o7777).toString(8).padStart(4, '0')}); queued mail is private` });
  }
  if (!stats.isDirectory() || problem) return;
  for (const name of (await readdir(path)).sort()) {
    const entry = await lstatIfAny(join(path, name));
    if (entry) await walk(join(path, name), entry, uid, findings);
  }
}

function writableProblem(stats: Stats): string | undefined {
  return (stats.mode & WRITABLE_BY_OTHERS) !== 0 ? `is writable by group or others (mode ${(stats.mode & 0o7777).toString(8).padStart(4, '0')})` : undefined;
}
