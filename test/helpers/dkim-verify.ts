// Runs test/helpers/dkim-verify.py with the Python that Debian's python3-dkim
// package installs for (the interpreter of its dkimverify command), so
// messages signed by minimta are checked by an independent implementation.
// Without the package the test fails and says what to install.

import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./dkim-verify.py', import.meta.url));
const MISSING = 'install the Debian package python3-dkim (apt-get install -y python3-dkim): the DKIM tests check signatures with its dkimverify';

export interface DkimVerdict {
  passed: boolean;
  /** One line per signature: "pass d=… s=… a=…" or "fail … (why)". */
  lines: string[];
}

/** The python3 that has the dkim module, from dkimverify's "#!" line. */
function dkimPython(): string {
  let dkimverify: string;
  try {
    dkimverify = execFileSync('sh', ['-c', 'command -v dkimverify'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(`dkimverify not found: ${MISSING}`);
  }
  const python = /^#!\s*(\S+)/.exec(readFileSync(dkimverify, 'utf8'))?.[1];
  if (!python) throw new Error(`cannot tell the Python of ${dkimverify}: ${MISSING}`);
  return python;
}

/** Verifies every DKIM-Signature of each message, with `records` as the DNS (name → TXT text). */
export async function dkimVerifyAll(messages: Buffer[], records: Record<string, string>): Promise<DkimVerdict[]> {
  const child = spawn(dkimPython(), [SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  child.stdin.end(JSON.stringify({ records, messages: messages.map((m) => m.toString('base64')) }));
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill(); reject(new Error('dkim-verify.py took over 60 s')); }, 60_000);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (c) => { clearTimeout(timer); resolve(c); });
  });
  if (err.includes('ModuleNotFoundError')) throw new Error(`${MISSING}\n${err.trim()}`);
  if (code !== 0) throw new Error(`dkim-verify.py exited ${code}: ${err.trim()}`);
  const verdicts = out.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as DkimVerdict);
  if (verdicts.length !== messages.length) throw new Error(`dkim-verify.py answered ${verdicts.length} of ${messages.length} messages: ${err.trim()}`);
  return verdicts;
}

export async function dkimVerify(message: Buffer, records: Record<string, string>): Promise<DkimVerdict> {
  return (await dkimVerifyAll([message], records))[0]!;
}
