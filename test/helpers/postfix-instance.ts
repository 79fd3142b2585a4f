// A private Postfix instance for interoperability tests: its own
// config_directory, queue_directory and maillog_file in a temporary
// directory, smtpd on one free loopback port, never port 25, never
// /etc/postfix's main.cf. Stop it in after(): `stop()` also removes it.
//
// Postfix is Debian's package `postfix`; without it the start fails with a
// message that says so (the test fails; it does not skip).

import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const POSTFIX = '/usr/sbin/postfix';
const SENDMAIL = '/usr/sbin/sendmail';
const POSTCAT = '/usr/sbin/postcat';
/** Bound on starting, stopping and each command (Postfix's own start takes about a second). */
const COMMAND_TIMEOUT_MS = 15_000;

export interface PostfixOptions {
  /** `relayhost` in main.cf, e.g. `[127.0.0.1]:2525`; none: Postfix keeps mail it cannot route. */
  relayhost?: string;
  /** Further main.cf lines. */
  main?: string[];
  /** smtpd's port on 127.0.0.1 (from `freePort()`, when a peer must know it first); default: a free one. */
  port?: number;
}

/** A free TCP port on 127.0.0.1, for a program that binds its own (Postfix takes no descriptor). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port; rejects after `timeoutMs`. */
async function waitForListener(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error(`Postfix did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function isInstalled(): Promise<boolean> {
  try {
    await fs.access(POSTFIX, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export class PostfixInstance {
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get configDir(): string { return path.join(this.dir, 'conf'); }
  get queueDir(): string { return path.join(this.dir, 'queue'); }
  get maillogFile(): string { return path.join(this.dir, 'maillog'); }

  static async start(options: PostfixOptions = {}): Promise<PostfixInstance> {
    if (!(await isInstalled())) {
      throw new Error(`Postfix is not installed (${POSTFIX} is missing): install the Debian package \`postfix\` (apt-get install postfix)`);
    }
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'minimta-postfix-'));
    // Postfix's daemons run as the postfix user: they must reach the queue below.
    await fs.chmod(dir, 0o755);
    const port = options.port ?? (await freePort());
    const instance = new PostfixInstance(dir, port);
    await fs.mkdir(instance.configDir);
    await fs.mkdir(instance.queueDir);
    await fs.mkdir(path.join(dir, 'data'));
    await run('chown', ['postfix', path.join(dir, 'data')]);
    await fs.writeFile(path.join(instance.configDir, 'main.cf'), instance.mainCf(options));
    await fs.writeFile(path.join(instance.configDir, 'master.cf'), instance.masterCf());
    try {
      // `start` checks the configuration and fails on what `check` would call fatal.
      await instance.postfix('start');
      await waitForListener(port, COMMAND_TIMEOUT_MS);
    } catch (err) {
      const log = await instance.maillog();
      await instance.stop();
      throw new Error(`private Postfix did not start: ${(err as Error).message}\nmaillog:\n${log}`);
    }
    return instance;
  }

  /** Runs Postfix's sendmail(1) against this instance with `args`, the message on its standard input. */
  async sendmail(args: string[], message: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const child = execFile(SENDMAIL, ['-C', this.configDir, ...args], { timeout: COMMAND_TIMEOUT_MS }, (err, _out, stderr) => {
        if (err) reject(new Error(`sendmail ${args.join(' ')}: ${err.message} ${stderr}`));
        else resolve();
      });
      child.stdin!.end(message);
    });
  }

  /** postcat(1) of one queue file: its envelope records, header and body, as Postfix stored them. */
  async postcat(file: string): Promise<string> {
    const { stdout } = await run(POSTCAT, ['-c', this.configDir, file], { timeout: COMMAND_TIMEOUT_MS });
    return stdout;
  }

  /** Queue files in one of the queues (`hold`, `incoming`, `active`, `deferred`). */
  async queueFiles(queue: string): Promise<string[]> {
    const root = path.join(this.queueDir, queue);
    const entries = await fs.readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
    return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath ?? e.path, e.name));
  }

  /** Waits (bounded) until `queue` holds at least one file; returns them. */
  async waitForQueueFiles(queue: string, timeoutMs = 10_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const files = await this.queueFiles(queue);
      if (files.length > 0) return files;
      if (Date.now() > deadline) throw new Error(`no message in Postfix's ${queue} queue within ${timeoutMs} ms\nmaillog:\n${await this.maillog()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async maillog(): Promise<string> {
    return fs.readFile(this.maillogFile, 'utf8').catch(() => '');
  }

  /** Stops the instance (bounded: its master is killed if it outlives the wait) and removes it. */
  async stop(): Promise<void> {
    const pid = await this.masterPid();
    await this.postfix('stop').catch(() => undefined);
    if (pid !== undefined) {
      const deadline = Date.now() + COMMAND_TIMEOUT_MS;
      while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    }
    await fs.rm(this.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  }

  private async masterPid(): Promise<number | undefined> {
    const text = await fs.readFile(path.join(this.queueDir, 'pid', 'master.pid'), 'utf8').catch(() => '');
    const pid = Number(text.trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  }

  /**
   * Runs postfix(1) with `command`. Its output goes to a file, not a pipe: the
   * master daemon that `start` leaves behind inherits it and would hold a
   * pipe open, so only the command's exit is awaited.
   */
  private async postfix(command: string): Promise<void> {
    const outputFile = path.join(this.dir, `postfix-${command}.out`);
    const output = await fs.open(outputFile, 'w');
    try {
      const child = spawn(POSTFIX, ['-c', this.configDir, command], { stdio: ['ignore', output.fd, output.fd] });
      const code = await new Promise<number | null>((resolve, reject) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`postfix ${command} did not finish within ${COMMAND_TIMEOUT_MS} ms`));
        }, COMMAND_TIMEOUT_MS);
        child.once('error', (err) => { clearTimeout(timer); reject(err); });
        child.once('exit', (exitCode) => { clearTimeout(timer); resolve(exitCode); });
      });
      if (code !== 0) throw new Error(`postfix ${command} exited with ${code}: ${await fs.readFile(outputFile, 'utf8')}`);
    } finally {
      await output.close();
    }
  }

  private mainCf(options: PostfixOptions): string {
    return [
      'compatibility_level = 3.6',
      `queue_directory = ${this.queueDir}`,
      `data_directory = ${path.join(this.dir, 'data')}`,
      'command_directory = /usr/sbin',
      'daemon_directory = /usr/lib/postfix/sbin',
      'meta_directory = /etc/postfix',
      'shlib_directory = /usr/lib/postfix',
      'mail_owner = postfix',
      'setgid_group = postdrop',
      `maillog_file = ${this.maillogFile}`,
      `maillog_file_prefixes = ${this.dir}`,
      'myhostname = postfix.interop.test',
      'mydomain = interop.test',
      'myorigin = $myhostname',
      'mydestination =',
      'local_recipient_maps =',
      'local_transport = error:5.1.1 local delivery disabled',
      'alias_maps =',
      'alias_database =',
      `relayhost = ${options.relayhost ?? ''}`,
      'inet_interfaces = 127.0.0.1',
      'inet_protocols = ipv4',
      'mynetworks = 127.0.0.0/8',
      'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination',
      'smtpd_peername_lookup = no',
      'smtp_dns_support_level = disabled',
      'smtp_tls_security_level = none',
      'smtpd_tls_security_level = none',
      // Retry quickly: a test never waits for Postfix's default backoff.
      'queue_run_delay = 1s',
      'minimal_backoff_time = 1s',
      'maximal_backoff_time = 2s',
      'biff = no',
      ...(options.main ?? []),
      '',
    ].join('\n');
  }

  private masterCf(): string {
    return [
      `127.0.0.1:${this.port} inet n - n - - smtpd`,
      'pickup    unix  n - n 60   1 pickup',
      'cleanup   unix  n - n -    0 cleanup',
      'qmgr      unix  n - n 300  1 qmgr',
      'rewrite   unix  - - n -    - trivial-rewrite',
      'bounce    unix  - - n -    0 bounce',
      'defer     unix  - - n -    0 bounce',
      'trace     unix  - - n -    0 bounce',
      'verify    unix  - - n -    1 verify',
      'flush     unix  n - n 1000? 0 flush',
      'proxymap  unix  - - n -    - proxymap',
      'smtp      unix  - - n -    - smtp',
      'relay     unix  - - n -    - smtp',
      'showq     unix  n - n -    - showq',
      'error     unix  - - n -    - error',
      'retry     unix  - - n -    - error',
      'discard   unix  - - n -    - discard',
      'local     unix  - n n -    - local',
      'anvil     unix  - - n -    1 anvil',
      'scache    unix  - - n -    1 scache',
      'postlog   unix-dgram n - n - 1 postlogd',
      '',
    ].join('\n');
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
