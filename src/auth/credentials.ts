// The seam between an AUTH exchange and the users in the config: the table
// is checked once when the config is read, and each set of credentials an
// exchange produces is answered 235, 535 or 454 (RFC 4954 §6).

import { ConfigError } from '../config-schema.js';
import { reply, type Reply } from '../reply-codes/index.js';
import { checkPasswordHash, PasswordHashError, verifyUser } from './password-hash.js';

/** User name → password hash, as in the config's auth.users. */
export type UserTable = Readonly<Record<string, string>>;

export type AuthOutcome =
  | { readonly ok: true; readonly user: string; readonly reply: Reply }
  /** `error` is set when the check itself failed (454), for the log; it holds no secret. */
  | { readonly ok: false; readonly reply: Reply; readonly error?: Error };

/**
 * Throws a ConfigError naming the first user whose hash is unusable, e.g.
 * "config: auth.users.alice: not a minimta password hash (run `minimta passwd`)".
 */
export function checkUserTable(users: UserTable, key = 'auth.users'): void {
  for (const [user, encoded] of Object.entries(users)) {
    try {
      checkPasswordHash(encoded);
    } catch (error) {
      if (error instanceof PasswordHashError) throw new ConfigError(`${key}.${user}`, error.problem);
      throw error;
    }
  }
}

/** Checks what a SaslStep of kind 'credentials' carried and names the reply to send. */
export async function checkCredentials(
  users: UserTable,
  credentials: { readonly user: string; readonly password: string },
): Promise<AuthOutcome> {
  let valid: boolean;
  try {
    valid = await verifyUser(users, credentials.user, credentials.password);
  } catch (error) {
    // A failure of the check, not of the client: it may retry (RFC 4954 §6).
    return { ok: false, reply: reply('authTemporaryFailure'), error: error as Error };
  }
  return valid
    ? { ok: true, user: credentials.user, reply: reply('authSucceeded') }
    : { ok: false, reply: reply('authFailed') };
}
