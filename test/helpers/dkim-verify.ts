// Runs test/helpers/dkim-verify.py with the Python that Debian's python3-dkim
// package installs for (the interpreter of its dkimverify command), so a
// message signed by minimta is checked by an independent implementation.
// Without the package the test fails and says what to install.

import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./dkim-verify.py', import.meta.url));

export interface DkimVerdict {
  passed: boolean;
  /** One line per signature: "pass d=… s=… a=…" or "fail …". */
  lines: string[];
}

/** The python3 that has the dkim module, from dkimverify's "#!" line. */
function dkimPython(): string {
  let dkimverify: string;
  try {
    dkimverify = execFileSync('sh', ['-c', 'command -v dkimverify'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('dkimverify not found: install the Debian package python3-dkim (apt-get install -y python3-dkim)');
  }
  const shebang = /^#!\s*(\S+)/.exec(readFileSync(dkimverify, 'utf8'))?.[1];
  if (!shebang) throw new Error(`cannot tell the Python of ${dkimverify}: reinstall python3-dkim`);
  return shebang;
}

/** Verifies every DKIM-Signature of `message`, with `records` as the DNS (name → TXT text). */
export async function dkimVerify(message: Buffer, records: Record<string, string>): Promise<DkimVerdict> {
  const python = dkimPython();
  const dir = mkdtempSync(join(tmpdir(), 'minimta-dkim-'));
  try {
    const recordsFile = join(dir, 'records.json');
    writeFileSync(recordsFile, JSON.stringify(Object.fromEntries(Object.entries(records).map(([k, v]) => [k.toLowerCase(), v]))));
    const child = spawn(python, [SCRIPT, recordsFile], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.stdin.end(message);
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => { child.kill(); reject(new Error('dkim-verify.py took over 20 s')); }, 20_000);
      child.on('error', reject);
      child.on('close', (c) => { clearTimeout(timer); resolve(c); });
    });
    if (err.includes('ModuleNotFoundError')) throw new Error(`python3-dkim is missing for ${python}: ${err.trim()}`);
    const lines = out.trim().split('\n').filter(Boolean);
    if (code !== 0 && code !== 1) throw new Error(`dkim-verify.py exited ${code}: ${err.trim()}`);
    return { passed: code === 0, lines: err.trim() ? [...lines, err.trim()] : lines };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
