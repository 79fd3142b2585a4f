// Dropping root, as Postfix's master does for mail_owner and OpenSMTPD for
// _smtpd. Started as root to bind ports below 1024, minimta binds its
// listeners, then becomes `user` (and `group`) before it opens the spool:
// whatever a client or a next hop makes it do from then on, it does as
// that user. When `user` is set, running on as root is never an option: a
// switch that fails stops the start.

import { spawnSync } from 'node:child_process';
import { chown, lstat, mkdir } from 'node:fs/promises';

/** The user to become, from the config. */
export interface RunAs {
  user: string;
  /** A group name or number; by default the user's own (primary) group. */
  group?: string;
}

export interface Identity {
  uid: number;
  gid: number;
}

/** The switch cannot be made or did not hold: the process must not go on. */
export class PrivilegeError extends Error {
  override name = 'PrivilegeError';
}

/**
 * The uid and primary gid of a user, from the system's user database. Node
 * has no getpwnam; id(1) asks the same database (files, LDAP … through NSS).
 */
export function lookupUser(user: string): Identity {
  const ask = (flag: '-u' | '-g'): number => {
    const result = spawnSync('id', [flag, '--', user], { encoding: 'utf8' });
    const value = result.stdout?.trim() ?? '';
    if (result.status !== 0 || !/^\d+$/.test(value)) {
      throw new PrivilegeError(`user "${user}" is not known to this system${result.error ? ` (${result.error.message})` : ''}`);
    }
    return Number(value);
  };
  return { uid: ask('-u'), gid: ask('-g') };
}

/** A group given as a number is that gid; a name is looked up by setgid itself. */
function groupId(group: string): number | string {
  return /^\d+$/.test(group) ? Number(group) : group;
}

/**
 * Becomes `runAs.user`: supplementary groups dropped, then the group, then
 * the user (in that order: after setuid, setgid is no longer allowed).
 * Already that user (systemd's User= and Group=): nothing to do. Not root and not that
 * user: nobody can switch, so PrivilegeError. Afterwards it checks that the
 * switch holds and that root cannot be taken back.
 */
export function dropPrivileges(runAs: RunAs, lookup: (user: string) => Identity = lookupUser): Identity {
  const target = lookup(runAs.user);
  const euid = process.geteuid!();
  if (euid === target.uid) return { uid: euid, gid: process.getegid!() };
  if (euid !== 0 && euid !== target.uid) {
    throw new PrivilegeError(`user is "${runAs.user}" (uid ${target.uid}), but minimta runs as uid ${euid}: only root can switch`);
  }
  const group = runAs.group === undefined ? target.gid : groupId(runAs.group);
  try {
    if (euid === 0) process.setgroups!([group]);
    process.setgid!(group);
    process.setuid!(target.uid);
  } catch (err) {
    throw new PrivilegeError(`cannot switch to user "${runAs.user}"${runAs.group === undefined ? '' : ` and group "${runAs.group}"`}: ${(err as Error).message}; refusing to run as uid ${process.geteuid!()}`);
  }
  if (process.getuid!() !== target.uid || process.geteuid!() !== target.uid) {
    throw new PrivilegeError(`switched to user "${runAs.user}", but the process runs as uid ${process.geteuid!()}; refusing to go on`);
  }
  if (target.uid !== 0 && canBecomeRoot()) {
    throw new PrivilegeError(`switched to user "${runAs.user}", but root can still be taken back; refusing to go on`);
  }
  return { uid: target.uid, gid: process.getegid!() };
}

function canBecomeRoot(): boolean {
  try {
    process.setuid!(0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Before the switch, while still root: a spool directory that does not
 * exist yet is created (mode 0700) and given to the user, who could not
 * create it in a directory of root's. An existing one is left as it is: its
 * owner is checked after the switch (spool-safety.ts), and an operator
 * fixes it with chown -R.
 */
export async function createSpoolFor(dir: string, owner: Identity): Promise<void> {
  try {
    await lstat(dir);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chown(dir, owner.uid, owner.gid);
}
