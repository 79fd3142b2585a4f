// A raw SMTP client for tests: writes exactly the bytes a test gives it and
// reads replies as they come, so tests can pipeline, split and misbehave.
// Every wait is bounded.

import net from 'node:net';
import tls from 'node:tls';
import { ReplyParser, type Reply } from '../../src/reply-codes/index.js';

export class WireClient {
  private buffer = '';
  private readonly replies: Reply[] = [];
  private readonly parser = new ReplyParser();
  private waiters: Array<() => void> = [];
  closed = false;
  /** Every raw chunk received, to check how replies were batched. */
  readonly chunks: string[] = [];

  private constructor(public socket: net.Socket) {
    this.attach(socket);
  }

  private attach(socket: net.Socket): void {
    socket.setNoDelay(true);
    socket.on('data', (chunk) => {
      this.chunks.push(chunk.toString('utf8'));
      this.buffer += chunk.toString('utf8');
      let end: number;
      while ((end = this.buffer.indexOf('\r\n')) !== -1) {
        const line = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        const done = this.parser.push(line);
        if (done) this.replies.push(done);
      }
      this.wake();
    });
    socket.on('close', () => { this.closed = true; this.wake(); });
    socket.on('error', () => {});
  }

  /** Starts TLS on the open connection (after the server's 220 to STARTTLS). */
  async startTls(): Promise<tls.TLSSocket> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    const secure = tls.connect({ socket: plain, rejectUnauthorized: false, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
    return secure;
  }

  /** Connects with TLS from the first byte (an implicit-TLS listener). */
  static connectTls(port: number, host = '127.0.0.1'): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ port, host, rejectUnauthorized: false, servername: 'localhost' }, () => resolve(new WireClient(socket)));
      socket.once('error', reject);
    });
  }

  static connect(port: number, host = '127.0.0.1'): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host }, () => resolve(new WireClient(socket)));
      socket.once('error', reject);
    });
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Waits for the next reply. */
  async reply(timeoutMs = 8000): Promise<Reply> {
    await this.until(() => this.replies.length > 0 || this.closed, timeoutMs, 'a reply');
    const next = this.replies.shift();
    if (!next) throw new Error('connection closed before a reply');
    return next;
  }

  async replyCodes(n: number, timeoutMs = 8000): Promise<string[]> {
    const codes: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await this.reply(timeoutMs);
      codes.push(r.enhanced ? `${r.code} ${r.enhanced}` : String(r.code));
    }
    return codes;
  }

  /** Sends a command and returns "code enhanced" of its reply. */
  async command(line: string, timeoutMs = 8000): Promise<string> {
    this.send(line + '\r\n');
    return (await this.replyCodes(1, timeoutMs))[0]!;
  }

  async waitClosed(timeoutMs = 8000): Promise<void> {
    await this.until(() => this.closed, timeoutMs, 'the server to close');
  }

  /** Greeting, EHLO, MAIL, RCPTs, DATA, body, dot: returns the final reply. */
  async sendMail(sender: string, recipients: string[], body: string | Buffer): Promise<Reply> {
    for (const line of [`MAIL FROM:<${sender}>`, ...recipients.map((r) => `RCPT TO:<${r}>`), 'DATA']) {
      const code = await this.command(line);
      if (!code.startsWith('2') && !code.startsWith('3')) throw new Error(`${line} got ${code}`);
    }
    this.send(body);
    this.send('.\r\n');
    return this.reply();
  }

  close(): void {
    this.socket.destroy();
  }

  private until(ready: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const check = () => {
        if (!ready()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
