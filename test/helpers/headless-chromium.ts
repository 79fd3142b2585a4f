// A real browser for the web inbox's test: Debian's chromium, headless,
// driven through the DevTools protocol over --remote-debugging-pipe (JSON
// messages ended by NUL on file descriptors 3 and 4), so no WebSocket and no
// npm package is needed. The browser gets a fresh profile that is removed
// when it closes.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';

const BINARIES = ['chromium', 'chromium-browser'];

/** The chromium binary on PATH; the error names the Debian package to install. */
export function findChromium(): string {
  for (const name of BINARIES) {
    if (spawnSync('sh', ['-c', `command -v ${name}`]).status === 0) return name;
  }
  throw new Error('chromium is not installed: the web inbox test needs a real browser (Debian package "chromium": apt-get install -y chromium)');
}

interface Pending { resolve(value: any): void; reject(error: Error): void }

export class HeadlessChromium {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private buffer = '';
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess, private readonly profile: string) {
    const input = child.stdio[4] as Readable;
    input.on('data', (chunk: Buffer) => this.receive(chunk.toString('utf8')));
    this.exited = new Promise((resolve) => child.on('exit', () => {
      for (const waiter of this.pending.values()) waiter.reject(new Error('chromium exited'));
      this.pending.clear();
      resolve();
    }));
  }

  static async start(): Promise<HeadlessChromium> {
    const binary = findChromium();
    const profile = await fs.mkdtemp(path.join(os.tmpdir(), 'minimta-chromium-'));
    const child = spawn(binary, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage', `--user-data-dir=${profile}`, '--remote-debugging-pipe', 'about:blank',
    ], { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] });
    const browser = new HeadlessChromium(child, profile);
    await browser.send('Browser.getVersion', {}, undefined, 60_000);
    return browser;
  }

  /** Opens a page and returns its session id for evaluate(). */
  async open(url: string): Promise<string> {
    const { targetId } = await this.send('Target.createTarget', { url });
    const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true });
    return sessionId as string;
  }

  /** The value of a JavaScript expression in the page (promises awaited). */
  async evaluate<T>(sessionId: string, expression: string): Promise<T> {
    const result = await this.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, sessionId);
    if (result.exceptionDetails) throw new Error(`in the page: ${JSON.stringify(result.exceptionDetails.exception?.description ?? result.exceptionDetails.text)}`);
    return result.result.value as T;
  }

  /** Evaluates until the expression is truthy; fails with the last value after timeoutMs. */
  async waitFor<T>(sessionId: string, expression: string, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: T | undefined;
    while (Date.now() < deadline) {
      last = await this.evaluate<T>(sessionId, expression).catch(() => undefined);
      if (last) return last;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`the page never made ${expression} true within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
  }

  async close(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
    // Chromium's helper processes outlive the killed browser for a moment and may
    // still write to the profile: retry (bounded) on ENOTEMPTY/EBUSY.
    await fs.rm(this.profile, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
  }

  private send(method: string, params: object, sessionId?: string, timeoutMs = 30_000): Promise<any> {
    const id = this.nextId++;
    const output = this.child.stdio[3] as Writable;
    output.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.pending.delete(id); reject(new Error(`chromium did not answer ${method} in ${timeoutMs} ms`)); }, timeoutMs);
      this.pending.set(id, {
        resolve: (value) => { clearTimeout(timer); resolve(value); },
        reject: (error) => { clearTimeout(timer); reject(error); },
      });
    });
  }

  private receive(text: string): void {
    this.buffer += text;
    let end: number;
    while ((end = this.buffer.indexOf('\0')) >= 0) {
      const message = JSON.parse(this.buffer.slice(0, end)) as { id?: number; result?: unknown; error?: { message: string } };
      this.buffer = this.buffer.slice(end + 1);
      const waiter = message.id !== undefined ? this.pending.get(message.id) : undefined;
      if (!waiter) continue;
      this.pending.delete(message.id!);
      if (message.error) waiter.reject(new Error(message.error.message));
      else waiter.resolve(message.result);
    }
  }
}
