// The configuration: embedded defaults, the JSON config file on top, then
// command-line flags on top of that (what each key holds: config-types.ts). Every key is validated before anything
// listens; a bad one is a ConfigError naming the key (exit code 2).
// Durations are seconds (fractions allowed); sizes are bytes.

import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import {
  ConfigError, type Check, boolean, cidr, hostPort, integer, list, number, object, oneOf, optional, port, string,
} from './config-schema.js';
import { checkUserTable } from './auth/credentials.js';
import type { StaticZones, ZoneEntry } from './dns/static-zones.js';
import { checkFaultRules, FaultRuleError, type FaultRuleSpec } from './faults/fault-rule.js';
import { dkimConfig } from './dkim/dkim-config.js';
import type { TlsLevel } from './mta-sts/tls-policy.js';
import type { Limits } from './protocol/server/limits.js';
import type { Config, HttpConfig, ListenConfig, SmarthostConfig, TraceConfig } from './config-types.js';

export { ConfigError };

export type { Config, HttpConfig, ListenConfig, SmarthostConfig, TraceConfig } from './config-types.js';

/** "8025" → 127.0.0.1:8025; "HOST:PORT" and "[v6]:PORT" as they are. */
export function httpAddress(listen: string, key = 'http.listen'): { host: string; port: number } {
  return /^\d+$/.test(listen) ? { host: '127.0.0.1', port: port(Number(listen), key) } : hostPort()(listen, key);
}

const DEFAULT_LISTENER: ListenConfig = { host: '127.0.0.1', port: 2525, mode: 'relay', refuse: 'stay', tls: 'none' };

export function defaultConfig(): Config {
  return {
    hostname: os.hostname() || 'localhost',
    listen: [{ ...DEFAULT_LISTENER }],
    spool: './var/spool',
    shutdownTimeout: 30,
    log: { timestamps: true, format: 'text' },
    faults: [],
    trace: { enabled: false, live: false, bodies: false, sessions: 100, maxBytes: 65536 },
    dns: { servers: [], timeout: 5, cacheTtl: 60, checkRecipients: true, checkSenders: true },
    delivery: {
      port: 25,
      routes: {},
      concurrency: { total: 100, perDestination: 20, whenBusy: 2, holdWhenBusy: 5 },
      // RFC 5321 §4.5.4.1: two tries in the first hour, then every few hours.
      retrySchedule: [300, 900, 1800, 3600, 7200, 14400],
      maxQueueLifetime: 432000,
      // A bounce that cannot be delivered is dropped sooner (RFC 5321 §4.5.4.1 allows it).
      bounceLifetime: 172800,
      tls: 'opportunistic',
      mtaSts: true,
      mtaStsPort: 443,
      tlsPolicies: {},
      delayWarning: 0,
      pollInterval: 5,
      // RFC 5321 §4.5.3.2 minimums; "command" covers EHLO, MAIL, RCPT and DATA.
      timeouts: { connect: 30, greeting: 300, command: 300, dataBlock: 180, dataEnd: 600 },
    },
    relay: { networks: ['127.0.0.0/8', '::1/128'], domains: [] },
    smtp: { strictEnvelopes: false, bareNewline: 'reject' },
    limits: {
      maxMessageSize: 10 * 1024 * 1024,
      maxRecipients: 100,
      maxConnections: 100,
      maxConnectionsPerIp: 10,
      maxErrors: 20,
      softErrorLimit: 10,
      errorDelay: 1,
      maxJunkCommands: 100,
      maxLineLength: 512,
      maxHops: 100,
      idleTimeout: 300,
      minDataRate: 500,
      dataGracePeriod: 30,
      refuseIdleTimeout: 30,
      refuseMaxCommands: 10,
      tlsHandshakeTimeout: 30,
      maxAuthFailures: 3,
    },
  };
}

const hostname: typeof string = (value, key) => {
  const name = string(value, key);
  if (!/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(name)) {
    throw new ConfigError(key, `"${name}" is not a valid host name`);
  }
  return name;
};

const existingFile: typeof string = (value, key) => {
  const file = string(value, key);
  if (!fs.existsSync(file)) throw new ConfigError(key, `file "${file}" does not exist`);
  return file;
};

const LIMIT_CHECKS: { [K in keyof Config['limits']]: Check<Config['limits'][K]> } = {
  maxMessageSize: integer(1024),
  maxRecipients: integer(1),
  maxConnections: integer(1),
  maxConnectionsPerIp: integer(1),
  maxErrors: integer(1),
  softErrorLimit: integer(1),
  errorDelay: number(0),
  maxJunkCommands: integer(1),
  // RFC 5321 §4.5.3.1.4: at least 512 octets must be accepted.
  maxLineLength: integer(512, 65536),
  maxHops: integer(1),
  idleTimeout: number(0.01),
  minDataRate: number(0),
  dataGracePeriod: number(0),
  refuseIdleTimeout: number(0.01),
  refuseMaxCommands: integer(1),
  tlsHandshakeTimeout: number(0.01),
  maxAuthFailures: integer(1),
};

/** dns.zones: name → "NXDOMAIN" or {mx, a, aaaa, txt} (src/dns/static-zones.ts). */
const staticZones: Check<StaticZones> = (value, key) => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(key, 'must be an object of names');
  const zones: StaticZones = {};
  for (const [name, entry] of Object.entries(value)) {
    const at = `${key}.${name}`;
    if (!hostname(name.replace(/\.$/, ''), at)) continue;
    if (entry === 'NXDOMAIN') { zones[name] = entry; continue; }
    zones[name] = object<ZoneEntry>({
      mx: optional(list(object({ preference: integer(0, 65535), exchange: (v, k) => (v === '.' ? '.' : hostname(v, k)) }, { preference: 0, exchange: '.' }))),
      a: optional(list((v, k) => { if (!net.isIPv4(string(v, k))) throw new ConfigError(k, `"${v}" is not an IPv4 address`); return v as string; })),
      aaaa: optional(list((v, k) => { if (!net.isIPv6(string(v, k))) throw new ConfigError(k, `"${v}" is not an IPv6 address`); return v as string; })),
      txt: optional(list(string)),
    }, {})(entry, at);
  }
  return zones;
};

/** listen[].limits: any of the keys of `limits`, for that listener alone. */
const listenerLimits: Check<Partial<Config['limits']>> = (value, key) => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(key, 'must be a JSON object');
  const result: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(value)) {
    const check = (LIMIT_CHECKS as Record<string, Check<unknown>>)[name];
    if (!check) throw new ConfigError(`${key}.${name}`, 'unknown key');
    result[name] = check(raw, `${key}.${name}`);
  }
  return result as Partial<Config['limits']>;
};

function configCheck(defaults: Config) {
  return object<Config>({
    hostname,
    postmaster: optional(string),
    listen: list(object<ListenConfig>({
      host: string,
      port,
      mode: oneOf('relay', 'refuse', 'capture'),
      refuse: oneOf('close', 'stay'),
      tls: oneOf('none', 'starttls', 'implicit'),
      auth: optional(oneOf('optional', 'required')),
      limits: optional(listenerLimits),
    }, DEFAULT_LISTENER), { nonEmpty: true }),
    spool: string,
    shutdownTimeout: number(0),
    trace: object<TraceConfig>({
      enabled: boolean,
      live: boolean,
      bodies: boolean,
      sessions: integer(1, 100_000),
      maxBytes: integer(1024),
    }, defaults.trace),
    dns: object({
      servers: list((v, k) => { hostPort(53)(v, k); return v as string; }),
      timeout: number(0.01),
      cacheTtl: number(0),
      checkRecipients: boolean,
      checkSenders: boolean,
      zones: optional(staticZones),
    }, defaults.dns),
    delivery: object({
      port,
      routes: (value, key) => {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(key, 'must be an object: name → "HOST:PORT"');
        return Object.fromEntries(Object.entries(value).map(([name, target]) => {
          hostname(name.replace(/\.$/, ''), `${key}.${name}`);
          return [name, hostPort(25)(target, `${key}.${name}`)];
        }));
      },
      concurrency: object({ total: integer(1, 1000), perDestination: integer(1, 1000), whenBusy: integer(1, 4000), holdWhenBusy: number(0) }, defaults.delivery.concurrency),
      retrySchedule: list(number(0.01), { nonEmpty: true }),
      maxQueueLifetime: number(0),
      bounceLifetime: number(0),
      tls: oneOf('opportunistic', 'required', 'none', 'verify'),
      mtaSts: boolean,
      mtaStsPort: port,
      tlsPolicies: (value, key) => {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(key, 'must be an object: domain → "none", "opportunistic", "required" or "verify"');
        const level = oneOf<TlsLevel>('none', 'opportunistic', 'required', 'verify');
        return Object.fromEntries(Object.entries(value).map(([domain, v]) => [hostname(domain, `${key}.${domain}`).toLowerCase(), level(v, `${key}.${domain}`)]));
      },
      delayWarning: number(0),
      pollInterval: number(0.01),
      timeouts: object({
        connect: number(0.01), greeting: number(0.01), command: number(0.01), dataBlock: number(0.01), dataEnd: number(0.01),
      }, defaults.delivery.timeouts),
    }, defaults.delivery),
    relay: object({ networks: list(cidr), domains: list(hostname) }, defaults.relay),
    smtp: object({ strictEnvelopes: boolean, bareNewline: oneOf('reject', 'normalize') }, defaults.smtp),
    smarthost: optional(object<SmarthostConfig>({
      host: string,
      port,
      username: optional(string),
      password: optional(string),
      tls: oneOf('opportunistic', 'required', 'none', 'implicit'),
    }, { host: '', port: 25, tls: 'opportunistic' })),
    limits: object(LIMIT_CHECKS, defaults.limits),
    tls: optional(object<NonNullable<Config['tls']>>({ cert: existingFile, key: existingFile, caFile: optional(existingFile) }, { cert: '', key: '' })),
    auth: optional(object<NonNullable<Config['auth']>>({
      users: (value, key) => {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(key, 'must be an object');
        for (const [user, hash] of Object.entries(value)) string(hash, `${key}.${user}`);
        checkUserTable(value as Record<string, string>, key);
        return value as Record<string, string>;
      },
      requireTls: boolean,
      senders: optional(senderTable),
    }, { users: {}, requireTls: true })),
    user: optional(string),
    group: optional(string),
    log: object({ timestamps: boolean, format: oneOf('text', 'json') }, defaults.log),
    faults: (value, key) => {
      try {
        checkFaultRules(value, key);
      } catch (err) {
        if (err instanceof FaultRuleError) throw new ConfigError(err.key, err.message.slice(err.key.length + 2));
        throw err;
      }
      return value as FaultRuleSpec[];
    },
    http: optional((value, key) => {
      const http = object<HttpConfig>({
        listen: (value, key) => { httpAddress(string(value, key), key); return value as string; },
        token: optional(string),
        metrics: (value, key) => { httpAddress(string(value, key), key); return value as string; },
      }, {})(value, key);
      // The HTTP API is on unless only the metrics listener is asked for.
      return http.listen === undefined && http.metrics === undefined ? { ...http, listen: '127.0.0.1:8025' } : http;
    }),
    dkim: optional(dkimConfig),
  }, defaults);
}

/** Validates a parsed config file on top of the defaults. */
export function validateConfig(raw: unknown): Config {
  const defaults = defaultConfig();
  const config = configCheck(defaults)(raw, '');
  if (config.smarthost && !config.smarthost.host) throw new ConfigError('smarthost.host', 'is required');
  if (config.smarthost && (config.smarthost.username === undefined) !== (config.smarthost.password === undefined)) {
    throw new ConfigError(config.smarthost.username === undefined ? 'smarthost.username' : 'smarthost.password', 'username and password go together');
  }
  if (config.group !== undefined && config.user === undefined) throw new ConfigError('group', 'goes with user');
  if (config.tls && (config.tls.cert === '') !== (config.tls.key === '')) {
    throw new ConfigError(config.tls.cert === '' ? 'tls.cert' : 'tls.key', 'tls.cert and tls.key go together');
  }
  config.listen.forEach((listener, i) => {
    if (listener.tls !== 'none' && !config.tls?.cert) {
      throw new ConfigError(`listen[${i}].tls`, `"${listener.tls}" needs tls.cert and tls.key`);
    }
    if (listener.auth === 'required') checkSubmissionListener(config, listener, `listen[${i}]`);
  });
  for (const user of Object.keys(config.auth?.senders ?? {})) {
    if (!Object.hasOwn(config.auth?.users ?? {}, user)) throw new ConfigError(`auth.senders.${user}`, 'is not a user of auth.users');
  }
  return config;
}

/**
 * A submission listener takes mail from authenticated users only, and AUTH
 * comes after TLS (RFC 8314 §3, RFC 4954 §4): without users or without TLS
 * nobody could ever send through it.
 */
function checkSubmissionListener(config: Config, listener: ListenConfig, key: string): void {
  if (listener.mode === 'refuse') throw new ConfigError(`${key}.auth`, '"required" makes no sense on a refuse listener');
  if (listener.tls === 'none') throw new ConfigError(`${key}.auth`, '"required" needs tls "starttls" or "implicit": AUTH is only offered under TLS (RFC 8314)');
  if (Object.keys(config.auth?.users ?? {}).length === 0) throw new ConfigError(`${key}.auth`, '"required" needs users in auth.users');
}

/** auth.senders: user → list of "user@domain" addresses or bare domains. */
const senderTable: Check<Record<string, string[]>> = (value, key) => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(key, 'must be an object: user → ["address@domain" or "domain", …]');
  return Object.fromEntries(Object.entries(value).map(([user, list]) => {
    if (!Array.isArray(list)) throw new ConfigError(`${key}.${user}`, 'must be a list of addresses or domains');
    return [user, list.map((entry: unknown, i) => {
      const itemKey = `${key}.${user}[${i}]`;
      const text = string(entry, itemKey).toLowerCase();
      const at = text.lastIndexOf('@');
      if (at === 0 || at === text.length - 1) throw new ConfigError(itemKey, 'must be "local@domain" or "domain"');
      hostname(text.slice(at + 1), itemKey);
      return text;
    })];
  }));
};

export function readConfigFile(file: string): Config {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('--config', `cannot read ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('--config', `${file} is not valid JSON: ${(err as Error).message}`);
  }
  return validateConfig(raw);
}

/** Command-line flags that override the file (README, "Command line"). */
export interface ConfigFlags {
  listen?: string;
  mode?: string;
  spool?: string;
  hostname?: string;
  dnsServers?: string[];
  deliveryPort?: string;
  smarthost?: string;
  logFormat?: string;
  /** --trace: record transcripts and show them live on stdout. */
  trace?: boolean;
  http?: string;
}

export function applyFlags(config: Config, flags: ConfigFlags): Config {
  const result: Config = structuredClone(config);
  if (flags.listen !== undefined || flags.mode !== undefined) {
    // The flags describe one listener; its other settings come from the first configured one.
    const first = { ...result.listen[0]! };
    if (flags.listen !== undefined) Object.assign(first, hostPort()(flags.listen, '--listen'));
    if (flags.mode !== undefined) first.mode = oneOf('relay', 'refuse', 'capture')(flags.mode, '--mode');
    result.listen = [first];
  }
  if (flags.trace) result.trace = { ...result.trace, enabled: true, live: true };
  if (flags.spool !== undefined) result.spool = string(flags.spool, '--spool');
  if (flags.hostname !== undefined) result.hostname = hostname(flags.hostname, '--hostname');
  if (flags.dnsServers?.length) {
    result.dns.servers = flags.dnsServers.map((s) => { hostPort(53)(s, '--dns-server'); return s; });
  }
  if (flags.deliveryPort !== undefined) result.delivery.port = port(Number(flags.deliveryPort), '--delivery-port');
  if (flags.http !== undefined) {
    httpAddress(string(flags.http, '--http'), '--http');
    result.http = { ...result.http, listen: flags.http };
  }
  if (flags.smarthost !== undefined) {
    result.smarthost = { ...hostPort(25)(flags.smarthost, '--smarthost'), tls: result.smarthost?.tls ?? 'opportunistic' };
  }
  if (flags.logFormat !== undefined) result.log.format = oneOf('text', 'json')(flags.logFormat, '--log-format');
  return result;
}

/** The address that <Postmaster> goes to (RFC 5321 §4.5.1). */
export function postmasterAddress(config: Config): string {
  return config.postmaster ?? `postmaster@${config.hostname}`;
}

/**
 * The limits as the server uses them (src/protocol/server/limits.ts): the one
 * place where the config's seconds become milliseconds.
 */
export function limitsOf(config: Config, listener?: ListenConfig): Limits {
  const { maxLineLength, idleTimeout, dataGracePeriod, errorDelay, refuseIdleTimeout, tlsHandshakeTimeout, ...counts } = { ...config.limits, ...listener?.limits };
  const ms = (seconds: number): number => Math.round(seconds * 1000);
  return {
    ...counts,
    maxLineOctets: maxLineLength,
    idleTimeoutMs: ms(idleTimeout),
    dataGraceMs: ms(dataGracePeriod),
    errorDelayMs: ms(errorDelay),
    refuseIdleTimeoutMs: ms(refuseIdleTimeout),
    tlsHandshakeTimeoutMs: ms(tlsHandshakeTimeout),
  };
}
