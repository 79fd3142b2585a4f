// The command line: `minimta serve`, and the commands for people.
// Exit codes: 0 done, 1 failure at run time, 2 bad usage or bad config.

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ConfigError, applyFlags, defaultConfig, readConfigFile, type Config } from './config.js';
import { startMta, type RunningMta } from './mta.js';
import { streamLogger } from './log.js';
import { hashPassword } from './auth/password-hash.js';
import { processIo, type CommandIo } from './cli/command-io.js';
import { queueCommand } from './cli/queue-command.js';
import { sendmailCommand } from './cli/sendmail-command.js';
import { resolveCommand } from './cli/resolve-command.js';
import { checkCommand } from './cli/check-command.js';
import { dkimCommand } from './cli/dkim-command.js';
import { explainCommand } from './cli/explain-command.js';
import { UnsafeSpoolError } from './queue/spool/spool.js';
import { PrivilegeError } from './privileges.js';
import { tuneHeapForRelay } from './heap-tuning.js';

const USAGE = `usage: minimta <command> [options]

commands:
  serve            run the relay (SMTP listeners and the delivery worker)
  passwd           read a password line on stdin, print its hash for auth.users
  queue SUB [ID]   the queue: list [--json], show ID, flush, retry ID, delete ID,
                   hold ID, release ID (minimta queue --help)
  sendmail [-f FROM] [-t] [RCPT...]
                   queue a message read on stdin (minimta sendmail --help)
  resolve DOMAIN   what delivery would do for a domain, from DNS
  check            is the config ready to run? TLS, spool, DNS … (minimta check --help)
  dkim keygen|check DOMAIN SELECTOR
                   make a DKIM key and its DNS record; check the published
                   record (minimta dkim --help)
  explain CODE     what a reply code means: 556, 5.1.10 or "556 5.1.10 text"
  help             show this text

options for serve:
  --config FILE            JSON config file (see README)
  --listen HOST:PORT       one listener here (replaces the configured list)
  --mode relay|refuse|capture
  --spool DIR              spool directory (default ./var/spool)
  --hostname NAME          our host name (greeting, Received:, EHLO)
  --dns-server HOST:PORT   DNS server to ask (repeatable)
  --delivery-port N        port of the next hop (default 25)
  --smarthost HOST:PORT    send everything through this host
  --log-format text|json   log lines as text (Postfix's shape) or JSON objects
  --trace                  show an annotated transcript of every SMTP session on stdout
  --http HOST:PORT         the HTTP API and web inbox here (a bare PORT: 127.0.0.1)
`;

class UsageError extends Error {}

/** Commands that read their own options (src/cli/): the exit code is theirs. */
const CLI_COMMANDS: Record<string, (args: string[], io: CommandIo) => Promise<number>> = {
  queue: queueCommand,
  sendmail: sendmailCommand,
  resolve: resolveCommand,
  check: checkCommand,
  dkim: dkimCommand,
  explain: explainCommand,
};

const OPTIONS = {
  config: { type: 'string' },
  listen: { type: 'string' },
  mode: { type: 'string' },
  spool: { type: 'string' },
  hostname: { type: 'string' },
  'dns-server': { type: 'string', multiple: true },
  'delivery-port': { type: 'string' },
  smarthost: { type: 'string' },
  'log-format': { type: 'string' },
  trace: { type: 'boolean' },
  http: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function loadConfig(values: ReturnType<typeof parse>['values']): Config {
  const base = values.config ? readConfigFile(values.config) : defaultConfig();
  return applyFlags(base, {
    listen: values.listen,
    mode: values.mode,
    spool: values.spool,
    hostname: values.hostname,
    dnsServers: values['dns-server'],
    deliveryPort: values['delivery-port'],
    smarthost: values.smarthost,
    logFormat: values['log-format'],
    trace: values.trace,
    http: values.http,
  });
}

function parse(args: string[]) {
  try {
    return parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/**
 * Runs the relay until a signal. SIGTERM/SIGINT: stop accepting, let what is
 * in flight finish within the grace time, exit 0; a second signal exits at
 * once (still safe: the spool is the truth). SIGHUP: re-read and validate the
 * config file; a bad one is refused and the running config stays.
 */
async function serve(config: Config, reread: () => Config): Promise<void> {
  // Signals are handled from the first moment: one that comes while the
  // relay is still starting must not kill it half-way with the default action.
  const log = streamLogger(config.log);
  tuneHeapForRelay();
  let relay: RunningMta | undefined;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping || !relay) {
      log('main', `${signal} received${stopping ? ' again' : ' while starting'}: exiting now`);
      process.exit(stopping ? 1 : 0);
    }
    stopping = true;
    log('main', `${signal} received: stopping (up to ${config.shutdownTimeout} s for work in flight)`);
    relay.stop(config.shutdownTimeout * 1000).then(() => {
      log('main', 'stopped');
      process.exit(0);
    }, (err) => {
      log('main', `stop failed: ${String(err)}`);
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    if (!relay) return log('main', 'SIGHUP while starting: ignored');
    try {
      relay.reload(reread());
    } catch (err) {
      log('main', `SIGHUP: configuration NOT reloaded, the running one stays: ${(err as Error).message}`);
    }
  });
  relay = await startMta(config, log);
  log('main', `minimta started as ${config.hostname}, spool ${config.spool}`);
}

/** The first line of stdin, without its line end; the password is never echoed or logged. */
async function readPasswordLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    if ((chunk as Buffer).includes(0x0a)) break;
  }
  const line = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  if (line === '') throw new UsageError('passwd: no password on stdin');
  return line;
}

async function packageVersion(): Promise<string> {
  const text = await readFile(new URL('../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== undefined && Object.hasOwn(CLI_COMMANDS, command)) return CLI_COMMANDS[command]!(rest, processIo);
  const { values, positionals } = parse(rest);
  if (values.help || command === undefined || ['help', '--help', '-h'].includes(command)) {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === 'version') {
    process.stdout.write(`minimta ${await packageVersion()}\n`);
    return 0;
  }
  switch (command) {
    case 'serve':
      if (positionals.length > 0) throw new UsageError(`serve takes no arguments: ${positionals.join(' ')}`);
      await serve(loadConfig(values), () => loadConfig(values));
      return -1;
    case 'passwd':
      if (positionals.length > 0) throw new UsageError('passwd reads the password on stdin and takes no arguments');
      process.stdout.write(`${await hashPassword(await readPasswordLine())}\n`);
      return 0;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => { if (code >= 0) process.exitCode = code; },
  (err) => {
    if (err instanceof ConfigError || err instanceof UsageError || err instanceof UnsafeSpoolError) {
      process.stderr.write(`minimta: ${err.message}\n`);
      if (err instanceof UsageError) process.stderr.write(USAGE);
      process.exit(2);
    }
    // A switch of user that failed: said plainly, and never run on as root.
    if (err instanceof PrivilegeError) {
      process.stderr.write(`minimta: ${err.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`minimta: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
