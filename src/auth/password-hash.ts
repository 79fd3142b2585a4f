// Password hashes for the AUTH users in the config, made and checked with
// scrypt (RFC 7914) from node:crypto. One string holds all a check needs:
//
//   scrypt$N=<cost>,r=<block size>,p=<parallelism>$<salt, base64>$<key, base64>
//
// e.g. scrypt$N=16384,r=8,p=1$2mWq…==$Vt0x…=  (base64 with padding, RFC 4648 §4).
// The parameters travel in the string so they can be raised later without
// breaking the hashes already in configs.
//
// The config is trusted less than the code: a hash with huge parameters would
// let a config exhaust memory or CPU on every AUTH, so parameters are bounded.

import crypto from 'node:crypto';

export interface ScryptParameters {
  /** CPU/memory cost, a power of two. */
  readonly N: number;
  /** Block size. */
  readonly r: number;
  /** Parallelism. */
  readonly p: number;
}

/** What `minimta passwd` uses today: 16 MiB and ~50 ms per check. */
export const DEFAULT_SCRYPT_PARAMETERS: ScryptParameters = { N: 16384, r: 8, p: 1 };

const SALT_BYTES = 16;
const KEY_BYTES = 32;

// Bounds on what a config may ask for.
const LIMITS = {
  maxN: 2 ** 20,
  maxR: 16,
  maxP: 4,
  saltBytes: { min: 16, max: 64 },
  keyBytes: { min: 16, max: 64 },
} as const;

/** Memory one scrypt call may use; also passed to node as maxmem. */
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024;

const FORMAT = /^scrypt\$N=(\d{1,8}),r=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

const NOT_A_HASH = 'not a minimta password hash (run `minimta passwd`)';

/** A stored hash that cannot be used. The message never contains the hash. */
export class PasswordHashError extends Error {
  constructor(readonly problem: string) {
    super(problem);
    this.name = 'PasswordHashError';
  }
}

interface PasswordHash {
  readonly parameters: ScryptParameters;
  readonly salt: Buffer;
  readonly key: Buffer;
}

/** Hashes a password for the config, with a fresh random salt. */
export async function hashPassword(
  password: string,
  parameters: ScryptParameters = DEFAULT_SCRYPT_PARAMETERS,
): Promise<string> {
  if (password === '') throw new RangeError('a password must not be empty'); // RFC 4616 §2: passwd = 1*SAFE
  checkParameters(parameters);
  const salt = crypto.randomBytes(SALT_BYTES);
  const key = await deriveKey(password, salt, parameters, KEY_BYTES);
  return formatHash({ parameters, salt, key });
}

/** True when the password matches the hash; false too when the hash is malformed. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const hash = parseOrUndefined(encoded);
  if (hash === undefined) return false;
  const derived = await deriveKey(password, hash.salt, hash.parameters, hash.key.length);
  // Both lengths come from the stored hash, so this check reveals nothing.
  return derived.length === hash.key.length && crypto.timingSafeEqual(derived, hash.key);
}

/** Throws a PasswordHashError saying what is wrong, for config validation. */
export function checkPasswordHash(encoded: string): void {
  parsePasswordHash(encoded);
}

/**
 * Checks a user's password against a table of user → hash. An unknown user
 * costs the same scrypt work as a known one, so response times do not tell
 * which user names exist.
 */
export async function verifyUser(
  users: Readonly<Record<string, string>>,
  user: string,
  password: string,
): Promise<boolean> {
  // Own properties only: "constructor" or "__proto__" are not users.
  const encoded = Object.hasOwn(users, user) ? users[user] : undefined;
  if (typeof encoded === 'string') return verifyPassword(password, encoded);
  await verifyPassword(password, dummyHashLike(users));
  return false;
}

function parsePasswordHash(encoded: string): PasswordHash {
  const match = FORMAT.exec(encoded);
  if (!match) throw new PasswordHashError(NOT_A_HASH);
  const [, n, r, p, saltText, keyText] = match as unknown as [string, string, string, string, string, string];
  const parameters = { N: Number(n), r: Number(r), p: Number(p) };
  checkParameters(parameters);
  const salt = decodeBase64(saltText);
  const key = decodeBase64(keyText);
  if (salt === undefined || key === undefined) throw new PasswordHashError(`${NOT_A_HASH}: bad base64`);
  checkLength('salt', salt, LIMITS.saltBytes);
  checkLength('key', key, LIMITS.keyBytes);
  return { parameters, salt, key };
}

function parseOrUndefined(encoded: string): PasswordHash | undefined {
  try {
    return parsePasswordHash(encoded);
  } catch (error) {
    if (error instanceof PasswordHashError) return undefined;
    throw error;
  }
}

function checkParameters({ N, r, p }: ScryptParameters): void {
  const isPowerOfTwo = Number.isInteger(N) && N >= 2 && (N & (N - 1)) === 0;
  if (!isPowerOfTwo || N > LIMITS.maxN) {
    throw new PasswordHashError(`scrypt N must be a power of two from 2 to ${LIMITS.maxN}`);
  }
  if (!Number.isInteger(r) || r < 1 || r > LIMITS.maxR) {
    throw new PasswordHashError(`scrypt r must be from 1 to ${LIMITS.maxR}`);
  }
  if (!Number.isInteger(p) || p < 1 || p > LIMITS.maxP) {
    throw new PasswordHashError(`scrypt p must be from 1 to ${LIMITS.maxP}`);
  }
  // RFC 7914 §2: N must be less than 2^(128·r/8).
  if (Math.log2(N) >= 16 * r) {
    throw new PasswordHashError(`scrypt N must be less than 2^${16 * r} when r=${r}`);
  }
  if (scryptMemory({ N, r, p }) > MAX_SCRYPT_MEMORY) {
    throw new PasswordHashError(`scrypt N=${N}, r=${r} needs more than ${MAX_SCRYPT_MEMORY / 2 ** 20} MiB`);
  }
}

/** Bytes scrypt allocates: 128·r·(N + p + 2), as OpenSSL counts it against maxmem. */
function scryptMemory({ N, r, p }: ScryptParameters): number {
  return 128 * r * (N + p + 2);
}

function checkLength(name: string, bytes: Buffer, bounds: { min: number; max: number }): void {
  if (bytes.length < bounds.min || bytes.length > bounds.max) {
    throw new PasswordHashError(`${NOT_A_HASH}: the ${name} must be ${bounds.min} to ${bounds.max} bytes`);
  }
}

function formatHash({ parameters: { N, r, p }, salt, key }: PasswordHash): string {
  return `scrypt$N=${N},r=${r},p=${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Canonical padded base64 only: anything that does not re-encode to itself is refused. */
function decodeBase64(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

/**
 * A stand-in hash, checked only for its cost, with the parameters and key
 * length of the first usable hash in the table (or the defaults), so checking
 * it costs what checking a real user costs.
 */
function dummyHashLike(users: Readonly<Record<string, string>>): string {
  const model = Object.values(users).map(parseOrUndefined).find((hash) => hash !== undefined);
  return formatHash({
    parameters: model?.parameters ?? DEFAULT_SCRYPT_PARAMETERS,
    salt: Buffer.alloc(model?.salt.length ?? SALT_BYTES),
    key: Buffer.alloc(model?.key.length ?? KEY_BYTES),
  });
}

/**
 * The password is NFKC-normalized first, the normalization step of SASLprep
 * (RFC 4013 §2.2, used for PLAIN by RFC 4616 §2), so the same password typed
 * in composed or decomposed form matches.
 */
function deriveKey(password: string, salt: Buffer, { N, r, p }: ScryptParameters, keyLength: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    crypto.scrypt(password.normalize('NFKC'), salt, keyLength, { N, r, p, maxmem: MAX_SCRYPT_MEMORY }, (error, key) => {
      if (error) reject(error);
      else resolve(key);
    });
  });
}
