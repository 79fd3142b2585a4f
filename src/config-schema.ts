// A small validator for the JSON config: each key has a check that returns
// the value or throws a ConfigError naming the key. Unknown keys are errors,
// so a typo never silently falls back to a default.

import net from 'node:net';

export class ConfigError extends Error {
  constructor(readonly key: string, problem: string) {
    super(`config: ${key}: ${problem}`);
    this.name = 'ConfigError';
  }
}

export type Check<T> = (value: unknown, key: string) => T;

export const string: Check<string> = (value, key) => {
  if (typeof value !== 'string' || value === '') throw new ConfigError(key, 'must be a non-empty string');
  return value;
};

export const boolean: Check<boolean> = (value, key) => {
  if (typeof value !== 'boolean') throw new ConfigError(key, 'must be true or false');
  return value;
};

/** A number of seconds (fractions allowed), or bytes: finite and >= min. */
export function number(min = 0): Check<number> {
  return (value, key) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
      throw new ConfigError(key, `must be a number >= ${min}`);
    }
    return value;
  };
}

export function integer(min: number, max = Number.MAX_SAFE_INTEGER): Check<number> {
  return (value, key) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(key, `must be a whole number from ${min} to ${max}`);
    }
    return value;
  };
}

export const port = integer(0, 65535);

export function oneOf<T extends string>(...choices: T[]): Check<T> {
  return (value, key) => {
    if (typeof value !== 'string' || !choices.includes(value as T)) {
      throw new ConfigError(key, `must be one of ${choices.map((c) => `"${c}"`).join(', ')}`);
    }
    return value as T;
  };
}

export function list<T>(item: Check<T>, options: { nonEmpty?: boolean } = {}): Check<T[]> {
  return (value, key) => {
    if (!Array.isArray(value)) throw new ConfigError(key, 'must be a list');
    if (options.nonEmpty && value.length === 0) throw new ConfigError(key, 'must not be empty');
    return value.map((v, i) => item(v, `${key}[${i}]`));
  };
}

/** An object with known keys; missing keys keep their defaults. */
export function object<T extends object>(fields: { [K in keyof T]: Check<T[K]> }, defaults: T): Check<T> {
  return (value, key) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ConfigError(key || '(the whole file)', 'must be a JSON object');
    }
    const result = { ...defaults };
    for (const [name, raw] of Object.entries(value)) {
      const check = (fields as Record<string, Check<unknown>>)[name];
      const path = key ? `${key}.${name}` : name;
      if (!check) throw new ConfigError(path, 'unknown key');
      (result as Record<string, unknown>)[name] = check(raw, path);
    }
    return result;
  };
}

export function optional<T>(check: Check<T>): Check<T | undefined> {
  return (value, key) => (value === undefined || value === null ? undefined : check(value, key));
}

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
