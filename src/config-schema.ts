// The config's checks, on the validator kit (validation.ts): each key has a
// check that returns the value or throws a ConfigError naming the key.
// Unknown keys are errors, so a typo never silently falls back to a default.

import net from 'node:net';
import { validators } from './validation.js';

export type { Check } from './validation.js';
import type { Check } from './validation.js';

export class ConfigError extends Error {
  constructor(readonly key: string, problem: string) {
    super(`config: ${key}: ${problem}`);
    this.name = 'ConfigError';
  }
}

export const { string, boolean, number, integer, oneOf, list, object, optional } = validators((key, problem) => new ConfigError(key, problem));

export const port = integer(0, 65535);

/** "host:port", "[v6]:port" or a bare host (with defaultPort). */
export function hostPort(defaultPort?: number): Check<{ host: string; port: number }> {
  return (value, key) => {
    const text = string(value, key);
    const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+)(?::(\d+))?$/.exec(text);
    const host = m?.[1];
    const portText = m?.[2];
    if (!host) throw new ConfigError(key, `"${text}" is not HOST:PORT`);
    if (portText === undefined && defaultPort === undefined) throw new ConfigError(key, `"${text}" needs a port (HOST:PORT)`);
    return { host, port: port(portText === undefined ? defaultPort : Number(portText), key) };
  };
}

/** A CIDR block such as 192.0.2.0/24 or 2001:db8::/32 (a bare address means one host). */
export const cidr: Check<string> = (value, key) => {
  const text = string(value, key);
  const [address, bits, extra] = text.split('/');
  const family = net.isIPv4(address ?? '') ? 4 : net.isIPv6(address ?? '') ? 6 : 0;
  const max = family === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (!family || extra !== undefined || (bits !== undefined && !/^\d+$/.test(bits)) || prefix > max) {
    throw new ConfigError(key, `"${text}" is not a valid CIDR block`);
  }
  return text;
};
