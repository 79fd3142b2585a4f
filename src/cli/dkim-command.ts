// `minimta dkim keygen DOMAIN SELECTOR [--algorithm rsa|ed25519] [--out FILE]`
// writes a new private key (mode 0600, never over an existing file) and
// prints the TXT record to publish at SELECTOR._domainkey.DOMAIN.
// `minimta dkim check DOMAIN SELECTOR` looks that record up through the
// configured DNS servers (as the relay would) and says whether it carries
// the public half of the configured key (or of --key FILE).
// Exit codes: 0 done / the record matches; 1 no record, a different key, or
// DNS failed for now; 2 bad usage or config.

import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { CliFailure, CliUsageError, parseCommandArgs, runCommand, type CommandIo } from './command-io.js';
import { loadCliConfig } from './cli-config.js';
import { DestinationResolver } from '../dns/index.js';
import {
  DkimKeyError, KEY_TYPE, algorithmOf, generatePrivateKey, keyRecord, keyRecordName, parseKeyRecord, parsePrivateKey, publicKeyData,
} from '../dkim/dkim-keys.js';

export const DKIM_USAGE = `usage: minimta dkim keygen DOMAIN SELECTOR [--algorithm rsa|ed25519] [--out FILE]
       minimta dkim check DOMAIN SELECTOR [--config FILE] [--key FILE] [--dns-server HOST:PORT]...
`;

const OPTIONS = {
  algorithm: { type: 'string' },
  out: { type: 'string' },
  key: { type: 'string' },
  config: { type: 'string' },
  'dns-server': { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseCommandArgs<typeof OPTIONS>>['values'];

export function dkimCommand(args: string[], io: CommandIo): Promise<number> {
  return runCommand('dkim', DKIM_USAGE, io, async () => {
    const { values, positionals } = parseCommandArgs(args, OPTIONS);
    if (values.help) {
      io.stdout.write(DKIM_USAGE);
      return 0;
    }
    const [sub, domain, selector, ...extra] = positionals;
    if (sub !== 'keygen' && sub !== 'check') throw new CliUsageError(sub === undefined ? 'keygen or check?' : `unknown subcommand "${sub}"`);
    if (domain === undefined || selector === undefined) throw new CliUsageError(`${sub} needs DOMAIN and SELECTOR`);
    if (extra.length > 0) throw new CliUsageError(`unexpected arguments: ${extra.join(' ')}`);
    return sub === 'keygen' ? keygen(domain.toLowerCase(), selector, values, io) : check(domain.toLowerCase(), selector, values, io);
  });
}

async function keygen(domain: string, selector: string, values: Values, io: CommandIo): Promise<number> {
  const type = values.algorithm ?? 'rsa';
  if (type !== 'rsa' && type !== 'ed25519') throw new CliUsageError(`--algorithm must be rsa or ed25519, not "${type}"`);
  const file = values.out ?? `${domain}.${selector}.pem`;
  const pem = generatePrivateKey(type);
  let handle;
  try {
    // 'wx': an existing key is never overwritten; 0600: only its owner reads it.
    handle = await open(file, 'wx', 0o600);
  } catch (err) {
    throw new CliFailure(`cannot write ${file}: ${(err as Error).message}`);
  }
  try {
    await handle.writeFile(pem);
    await handle.chmod(0o600);
  } finally {
    await handle.close();
  }
  const record = keyRecord(parsePrivateKey(pem));
  const config = { dkim: { domains: { [domain]: { selector, key: path.resolve(file) } } } };
  io.stdout.write([
    `wrote the ${type} private key to ${file} (mode 0600)`,
    'publish this TXT record in DNS:',
    `${keyRecordName(domain, selector)}. IN TXT ${zoneFileStrings(record)}`,
    'and configure it:',
    `  ${JSON.stringify(config)}`,
    '',
  ].join('\n'));
  return 0;
}

/** A TXT text in zone-file form: quoted strings of at most 255 octets (RFC 1035 §3.3.14, §5.1). */
function zoneFileStrings(text: string): string {
  const strings = text.match(/.{1,255}/g) ?? [''];
  return strings.length === 1 ? `"${strings[0]}"` : `( ${strings.map((s) => `"${s}"`).join(' ')} )`;
}

async function check(domain: string, selector: string, values: Values, io: CommandIo): Promise<number> {
  const config = loadCliConfig(values);
  const keyFile = values.key ?? config.dkim?.domains[domain]?.find((k) => k.selector === selector)?.key;
  if (keyFile === undefined) {
    throw new CliUsageError(`no key for ${domain} with selector ${selector} in the config (dkim.domains); give --key FILE`);
  }
  let key;
  try {
    key = parsePrivateKey(await readFile(keyFile, 'utf8'));
    algorithmOf(key);
  } catch (err) {
    if (err instanceof DkimKeyError || (err as NodeJS.ErrnoException).code !== undefined) throw new CliFailure(`${keyFile}: ${(err as Error).message}`, 2);
    throw err;
  }
  const name = keyRecordName(domain, selector);
  const resolver = new DestinationResolver({ servers: config.dns.servers, timeoutMs: config.dns.timeout * 1000, tries: 2, cacheSize: 0 });
  const answer = await resolver.resolveTxt(name);
  const expected = keyRecord(key);
  if (answer.kind === 'temporary') throw new CliFailure(`${name}: DNS failed for now (${answer.code}); try again later`);
  const records = answer.kind === 'records' ? answer.records.filter((r) => parseKeyRecord(r).has('p')) : [];
  if (records.length === 0) {
    io.stdout.write(`${name}: no DKIM key record; publish:\n${name}. IN TXT ${zoneFileStrings(expected)}\n`);
    return 1;
  }
  if (records.length > 1) {
    io.stdout.write(`${name}: ${records.length} DKIM key records; verifiers may pick any (RFC 6376 §3.6.2.2): keep one\n`);
    return 1;
  }
  const tags = parseKeyRecord(records[0]!);
  const published = tags.get('p') ?? '';
  const type = tags.get('k') ?? 'rsa'; // RFC 6376 §3.6.1: k= defaults to rsa
  const wanted = KEY_TYPE[algorithmOf(key)];
  if (published === '') {
    io.stdout.write(`${name}: the key is revoked (empty p=, RFC 6376 §3.6.1)\n`);
    return 1;
  }
  if (published !== publicKeyData(key) || type !== wanted) {
    io.stdout.write(`${name}: does NOT match ${keyFile}\n  published: ${records[0]}\n  expected:  ${expected}\n`);
    return 1;
  }
  io.stdout.write(`${name}: matches ${keyFile} (${wanted})\n`);
  return 0;
}
