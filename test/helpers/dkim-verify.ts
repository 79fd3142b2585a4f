// Runs test/helpers/dkim-verify.py with the Python that Debian's python3-dkim
// package installs for (the interpreter of its dkimverify command), so
// messages signed by minimta are checked by an independent implementation.
// Without the package the test fails and says what to install. One process
// serves the whole run (its start-up is slow under load).

import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
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

/** One verifier process per test run, answering one request line at a time. */
class Verifier {
  private readonly child: ChildProcessWithoutNullStreams;
  private output = '';
  private errors = '';
  private waiting: Array<{ resolve: (line: string) => void; reject: (err: Error) => void }> = [];
  private exited?: Error;

  constructor() {
    this.child = spawn(dkimPython(), [SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (d: Buffer) => {
      this.output += d.toString();
      for (let nl = this.output.indexOf('\n'); nl >= 0; nl = this.output.indexOf('\n')) {
        const line = this.output.slice(0, nl);
        this.output = this.output.slice(nl + 1);
        this.waiting.shift()?.resolve(line);
      }
    });
    this.child.stderr.on('data', (d: Buffer) => { this.errors += d.toString(); });
    const gone = (why: string) => {
      const missing = this.errors.includes('ModuleNotFoundError') ? `${MISSING}\n` : '';
      this.exited = new Error(`${missing}dkim-verify.py ${why}: ${this.errors.trim()}`);
      for (const w of this.waiting.splice(0)) w.reject(this.exited);
    };
    this.child.on('error', (err) => gone(err.message));
    this.child.on('close', (code) => gone(`exited ${code}`));
    // The test run may end while it waits for the next request.
    this.child.unref();
    for (const stream of [this.child.stdin, this.child.stdout, this.child.stderr]) (stream as unknown as { unref?: () => void }).unref?.();
  }

  request(line: string): Promise<string> {
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('dkim-verify.py gave no answer within 60 s')), 60_000);
      this.waiting.push({
        resolve: (answer) => { clearTimeout(timer); resolve(answer); },
        reject: (err) => { clearTimeout(timer); reject(err); },
      });
      this.child.stdin.write(`${line}\n`);
    });
  }
}

let verifier: Verifier | undefined;

/** Verifies every DKIM-Signature of each message, with `records` as the DNS (name → TXT text). */
export async function dkimVerifyAll(messages: Buffer[], records: Record<string, string>): Promise<DkimVerdict[]> {
  verifier ??= new Verifier();
  const answer = await verifier.request(JSON.stringify({ records, messages: messages.map((m) => m.toString('base64')) }));
  const verdicts = JSON.parse(answer) as DkimVerdict[];
  if (verdicts.length !== messages.length) throw new Error(`dkim-verify.py answered ${verdicts.length} of ${messages.length} messages`);
  return verdicts;
}

export async function dkimVerify(message: Buffer, records: Record<string, string>): Promise<DkimVerdict> {
  return (await dkimVerifyAll([message], records))[0]!;
}
