// Runs `minimta serve` as a real child process, for tests of process life:
// signals, restarts, crashes. Its stdout (the mail log) is kept and watched.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROCESS_TIMEOUT_MS } from './process-timeouts.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export class RelayProcess {
  output = '';
  exitCode: number | null = null;
  private readonly exited: Promise<number | null>;

  private constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (chunk: Buffer) => { this.output += chunk.toString(); });
    child.stderr!.on('data', (chunk: Buffer) => { this.output += chunk.toString(); });
    this.exited = new Promise((resolve) => child.on('exit', (code) => { this.exitCode = code; resolve(code); }));
  }

  /** Starts `minimta serve --config FILE ...serveArgs` (node run with `nodeArgs`) and waits for its SMTP port. */
  static async start(config: object, configFile: string, nodeArgs: string[] = [], serveArgs: string[] = []): Promise<{ relay: RelayProcess; port: number }> {
    await fs.writeFile(configFile, JSON.stringify(config, null, 2));
    const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', path.join(ROOT, 'src/main.ts'), 'serve', '--config', configFile, ...serveArgs], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const relay = new RelayProcess(child);
    const line = await relay.waitFor(/listening on [\d.]+:(\d+)/, PROCESS_TIMEOUT_MS);
    await relay.waitFor(/minimta started/, PROCESS_TIMEOUT_MS);
    return { relay, port: Number(line[1]) };
  }

  /** Resolves with the first match of `pattern` in the output, waiting for it if need be. */
  waitFor(pattern: RegExp, timeoutMs = PROCESS_TIMEOUT_MS): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = this.output.match(pattern);
        if (m) { cleanup(); resolve(m); return true; }
        return false;
      };
      const timer = setTimeout(() => { cleanup(); reject(new Error(`no ${pattern} in the relay's output after ${timeoutMs} ms:\n${this.output}`)); }, timeoutMs);
      const onData = () => { check(); };
      const onExit = () => { if (!check()) { cleanup(); reject(new Error(`relay exited before ${pattern}:\n${this.output}`)); } };
      const cleanup = () => {
        clearTimeout(timer);
        this.child.stdout!.off('data', onData);
        this.child.off('exit', onExit);
      };
      if (check()) return;
      this.child.stdout!.on('data', onData);
      this.child.on('exit', onExit);
    });
  }

  /** The process's resident memory now, in bytes (Linux: /proc/PID/status). */
  async rss(): Promise<number> {
    const status = await fs.readFile(`/proc/${this.child.pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status);
    if (!kb) throw new Error(`no VmRSS in /proc/${this.child.pid}/status`);
    return Number(kb[1]) * 1024;
  }

  signal(name: NodeJS.Signals): void {
    this.child.kill(name);
  }

  async waitForExit(timeoutMs = PROCESS_TIMEOUT_MS): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`relay still running after ${timeoutMs} ms`)), timeoutMs); });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async kill(): Promise<void> {
    if (this.exitCode !== null || this.child.exitCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}
