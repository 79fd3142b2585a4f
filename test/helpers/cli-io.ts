// Runs the operator's commands for tests: in process, with captured
// streams (most tests), or as a real `minimta` child process (a few
// end-to-end tests; each costs about a second).

import { spawn } from 'node:child_process';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { CommandIo } from '../../src/cli/command-io.js';
import { PROCESS_TIMEOUT_MS } from './process-timeouts.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface CapturedIo {
  io: CommandIo;
  stdout(): string;
  stderr(): string;
}

export function captureIo(stdin: string | Buffer = '', extra: Partial<CommandIo> = {}): CapturedIo {
  const out: string[] = [];
  const err: string[] = [];
  const input = typeof stdin === 'string' ? Buffer.from(stdin, 'utf8') : stdin;
  return {
    io: {
      stdout: { write: (text: string) => out.push(text) },
      stderr: { write: (text: string) => err.push(text) },
      stdin: Readable.from(input.length > 0 ? [input] : []),
      ...extra,
    },
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `minimta ARGS…` as a child process, without blocking this one (a test relay may have to answer it). */
export function runCli(args: string[], stdin = '', timeoutMs = PROCESS_TIMEOUT_MS): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/main.ts'), ...args], { cwd: ROOT });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`minimta ${args.join(' ')}: no exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', (error) => { clearTimeout(timer); reject(error); });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.end(stdin);
  });
}
