// What `minimta check` looks at, like `postfix check`: each check returns
// findings, one line each, and never throws for what it finds. The config
// itself is checked by loading it (config.ts); these look at what the config
// points to: the user to run as, the TLS certificate and key, the spool (and
// old-layout messages it could not convert), the DNS servers, the DKIM keys.

import { X509Certificate, createPrivateKey } from 'node:crypto';
import { getServers } from 'node:dns';
import { Resolver } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Config } from '../config.js';
import { lookupUser, PrivilegeError } from '../privileges.js';
import { runningUid, spoolFindings } from '../queue/spool/spool-safety.js';
import { loadDkimKeys } from '../dkim/dkim-config.js';

export interface Finding {
  level: 'ok' | 'warning' | 'error';
  /** What was checked: "tls.cert", "spool", "dns 127.0.0.53:53" … */
  subject: string;
  text: string;
}

/** A certificate that ends sooner than this gets a warning. */
const EXPIRY_WARNING_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;

const ok = (subject: string, text: string): Finding => ({ level: 'ok', subject, text });
const warning = (subject: string, text: string): Finding => ({ level: 'warning', subject, text });
const error = (subject: string, text: string): Finding => ({ level: 'error', subject, text });

/** The user the relay runs as: `user` (which must exist), or whoever runs this. */
export function checkUser(config: Config): { findings: Finding[]; uid: number | undefined } {
  if (config.user === undefined) return { findings: [], uid: runningUid() };
  try {
    const { uid, gid } = lookupUser(config.user);
    return { findings: [ok('user', `${config.user} (uid ${uid}, gid ${gid})`)], uid };
  } catch (err) {
    if (!(err instanceof PrivilegeError)) throw err;
    return { findings: [error('user', err.message)], uid: undefined };
  }
}

/** tls.cert and tls.key: readable, a matching pair, valid now, naming our host name. */
export function checkTls(config: Config, now: Date): Finding[] {
  if (!config.tls?.cert) return [];
  const { cert: certFile, key: keyFile } = config.tls;
  const read = (file: string): Buffer | Finding => {
    try {
      return readFileSync(file);
    } catch (err) {
      return error(file === certFile ? 'tls.cert' : 'tls.key', `cannot read ${file}: ${(err as Error).message}`);
    }
  };
  const certPem = read(certFile);
  const keyPem = read(keyFile);
  if (!Buffer.isBuffer(certPem) || !Buffer.isBuffer(keyPem)) {
    return [certPem, keyPem].filter((f): f is Finding => !Buffer.isBuffer(f));
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    return [error('tls.cert', `${certFile} is not a PEM certificate: ${(err as Error).message}`)];
  }
  const findings: Finding[] = [];
  try {
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) findings.push(error('tls.key', `${keyFile} is not the key of the certificate ${certFile}`));
  } catch (err) {
    findings.push(error('tls.key', `${keyFile} is not a usable private key: ${(err as Error).message}`));
  }
  const from = new Date(cert.validFrom);
  const to = new Date(cert.validTo);
  if (now < from) findings.push(error('tls.cert', `${certFile} is not valid before ${from.toISOString()}`));
  else if (now > to) findings.push(error('tls.cert', `${certFile} expired on ${to.toISOString()}`));
  else if (to.getTime() - now.getTime() < EXPIRY_WARNING_DAYS * DAY_MS) {
    findings.push(warning('tls.cert', `${certFile} expires on ${to.toISOString()}, in less than ${EXPIRY_WARNING_DAYS} days`));
  }
  if (cert.checkHost(config.hostname) === undefined) {
    findings.push(error('tls.cert', `${certFile} does not cover the host name ${config.hostname} (it names: ${cert.subjectAltName ?? cert.subject})`));
  }
  if (findings.length === 0) findings.push(ok('tls', `${certFile} and its key match, cover ${config.hostname}, valid until ${to.toISOString()}`));
  return findings;
}

/** The spool, all of it: owner, modes, links (spool-safety.ts), for the user the relay runs as. */
export async function checkSpool(config: Config, uid: number | undefined): Promise<Finding[]> {
  const dir = resolve(config.spool);
  if (uid === undefined) return [];
  try {
    const findings = await spoolFindings(dir, uid);
    const owners = findings.length === 0
      ? [ok('spool', `${dir} belongs to uid ${uid} alone`)]
      : findings.map((f): Finding => ({ level: f.level, subject: 'spool', text: `${f.path} ${f.problem}` }));
    return [...owners, ...await notConverted(dir)];
  } catch (err) {
    return [error('spool', `cannot read ${dir}: ${(err as Error).message}`)];
  }
}

/**
 * Messages of the previous release's layout that the relay could not
 * convert are left in upgrade/<id>/ for the operator (docs/queue.md,
 * "Upgrading from the directory layout"): they are not delivered.
 */
async function notConverted(spoolDir: string): Promise<Finding[]> {
  let ids: string[];
  try {
    ids = await readdir(join(spoolDir, 'upgrade'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  if (ids.length === 0) return [];
  const listed = ids.sort().slice(0, 5).join(', ') + (ids.length > 5 ? ', …' : '');
  return [warning('spool', `${ids.length} message(s) of the previous release's layout could not be converted and are not delivered: ${join(spoolDir, 'upgrade')}/ (${listed}); the relay's log says why`)];
}

/** Each DNS server answers a query (any answer, NXDOMAIN included, shows it works). */
export async function checkDns(config: Config): Promise<Finding[]> {
  const servers = config.dns.servers.length > 0 ? config.dns.servers : getServers();
  if (servers.length === 0) return [error('dns', 'no DNS server is configured (dns.servers) or known to the system')];
  return Promise.all(servers.map(async (server): Promise<Finding> => {
    const subject = `dns ${server}`;
    const resolver = new Resolver({ timeout: Math.max(1, Math.round(config.dns.timeout * 1000)), tries: 1 });
    try {
      resolver.setServers([server]);
    } catch (err) {
      return error(subject, `is not a usable server address: ${(err as Error).message}`);
    }
    try {
      await resolver.resolveMx(config.hostname);
      return ok(subject, `answers (MX of ${config.hostname})`);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTFOUND' || code === 'ENODATA') return ok(subject, `answers (MX of ${config.hostname}: none)`);
      if (code === 'ESERVFAIL') return warning(subject, `answers SERVFAIL for the MX of ${config.hostname}`);
      if (code === 'EREFUSED') return error(subject, 'refuses our queries');
      return error(subject, `does not answer (${code ?? (err as Error).message})`);
    }
  }));
}

/** dkim.domains: every key file readable and a usable private key. */
export function checkDkim(config: Config): Finding[] {
  if (!config.dkim) return [];
  try {
    const keys = loadDkimKeys(config.dkim);
    return keys.map((k) => ok('dkim', `${k.selector}._domainkey.${k.domain}: key loaded (${k.algorithm})`));
  } catch (err) {
    return [error('dkim', (err as Error).message)];
  }
}
