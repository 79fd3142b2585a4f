// Fetching https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461 §3.3):
// over HTTPS with a certificate that verifies for that name (the system CAs,
// plus tls.caFile), only a 200 counts (no redirects, §3.3), at most 64 KiB
// (§3.3 lets senders limit it) and within a time limit. The host's address
// comes from our own resolver (dns.servers), never from getaddrinfo.

import https from 'node:https';
import tls from 'node:tls';
import type { LookupFunction } from 'node:net';
import { MIN_TLS_VERSION } from '../tls-context.js';
import { parseStsPolicy, type StsPolicy } from './sts-policy.js';

export const MAX_POLICY_OCTETS = 64 * 1024;

export interface PolicyFetchOptions {
  /** The addresses of a host name, from our resolver. */
  addressesOf: (host: string) => Promise<string[]>;
  /** 443; tests serve policies on another port. */
  port: number;
  timeoutMs: number;
  /** Extra trusted CA certificates (PEM), besides the system's. */
  extraCa?: string;
}

export class PolicyFetchError extends Error {}

export function policyHost(domain: string): string {
  return `mta-sts.${domain}`;
}

export async function fetchStsPolicy(domain: string, options: PolicyFetchOptions): Promise<StsPolicy> {
  const host = policyHost(domain);
  const text = await fetchText(host, options);
  try {
    return parseStsPolicy(text);
  } catch (err) {
    throw new PolicyFetchError(`https://${host}/.well-known/mta-sts.txt: ${(err as Error).message}`);
  }
}

function fetchText(host: string, options: PolicyFetchOptions): Promise<string> {
  const url = `https://${host}/.well-known/mta-sts.txt`;
  const lookup: LookupFunction = (hostname, lookupOptions, callback) => {
    options.addressesOf(hostname).then((addresses) => {
      if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname}: no address`), { code: 'ENOTFOUND' }), '', 4);
      const all = addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
      if (lookupOptions.all) return (callback as unknown as (e: null, a: typeof all) => void)(null, all);
      callback(null, all[0]!.address, all[0]!.family);
    }, (err: Error) => callback(err, '', 4));
  };
  return new Promise((resolve, reject) => {
    const fail = (why: string) => reject(new PolicyFetchError(`${url}: ${why}`));
    const request = https.get({
      host,
      port: options.port,
      path: '/.well-known/mta-sts.txt',
      lookup,
      ca: options.extraCa ? [...tls.rootCertificates, options.extraCa] : undefined,
      minVersion: MIN_TLS_VERSION,
      rejectUnauthorized: true,
      agent: false,
      timeout: options.timeoutMs,
    }, (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        // RFC 8461 §3.3: "HTTP 3xx redirects MUST NOT be followed".
        return fail(`HTTP ${response.statusCode}${response.headers.location ? ` (redirect to ${response.headers.location} not followed)` : ''}`);
      }
      const type = response.headers['content-type'] ?? '';
      if (!/^text\/plain\b/i.test(type)) {
        response.resume();
        return fail(`Content-Type is "${type}", not text/plain (RFC 8461 §3.2)`);
      }
      const chunks: Buffer[] = [];
      let octets = 0;
      response.on('data', (chunk: Buffer) => {
        octets += chunk.length;
        if (octets > MAX_POLICY_OCTETS) {
          request.destroy();
          return fail(`larger than ${MAX_POLICY_OCTETS} octets`);
        }
        chunks.push(chunk);
      });
      response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      response.on('error', (err) => fail(err.message));
    });
    // The socket's idle timeout, and one bound on the whole fetch.
    const timer = setTimeout(() => { request.destroy(); fail(`no policy within ${options.timeoutMs} ms`); }, options.timeoutMs);
    request.on('timeout', () => { request.destroy(); fail(`timed out after ${options.timeoutMs} ms`); });
    request.on('error', (err) => fail(err.message));
    request.on('close', () => clearTimeout(timer));
  });
}
