import { expect } from 'chai';
import {
  checkPasswordHash, DEFAULT_SCRYPT_PARAMETERS, hashPassword, PasswordHashError, verifyPassword, verifyUser,
  type ScryptParameters,
} from '../src/auth/password-hash.js';
import { checkCredentials, checkUserTable } from '../src/auth/credentials.js';
import { ConfigError } from '../src/config-schema.js';

// Cheap parameters keep the suite fast; one test uses the defaults.
const FAST: ScryptParameters = { N: 1024, r: 8, p: 1 };

const SALT = Buffer.alloc(16, 7).toString('base64');
const KEY = Buffer.alloc(32, 9).toString('base64');

/** A well-formed hash string with the given parameter text. */
const withParameters = (parameters: string): string => `scrypt$${parameters}$${SALT}$${KEY}`;

/** The message checkPasswordHash throws, failing the test if it accepts. */
function hashProblem(encoded: string): string {
  try {
    checkPasswordHash(encoded);
  } catch (error) {
    expect(error).to.be.instanceOf(PasswordHashError);
    return (error as Error).message;
  }
  expect.fail('expected checkPasswordHash to reject the hash');
}

describe('password-hash: hashPassword and verifyPassword', () => {
  it('verifies a password against its own hash made with the default parameters', async () => {
    const encoded = await hashPassword('correct horse battery staple');
    expect(encoded).to.match(/^scrypt\$N=16384,r=8,p=1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    expect(await verifyPassword('correct horse battery staple', encoded)).to.equal(true);
    expect(() => checkPasswordHash(encoded)).not.to.throw();
  });

  it('keeps the parameters in the string, so a hash made with other ones still verifies', async () => {
    const encoded = await hashPassword('s3cret', { N: 512, r: 4, p: 2 });
    expect(encoded.startsWith('scrypt$N=512,r=4,p=2$')).to.equal(true);
    expect(await verifyPassword('s3cret', encoded)).to.equal(true);
  });

  it('rejects a wrong password, including a prefix and a different case', async () => {
    const encoded = await hashPassword('Secret', FAST);
    expect(await verifyPassword('secret', encoded)).to.equal(false);
    expect(await verifyPassword('Secre', encoded)).to.equal(false);
    expect(await verifyPassword('Secret ', encoded)).to.equal(false);
  });

  it('salts every hash, so two hashes of the same password differ and both verify', async () => {
    const first = await hashPassword('same', FAST);
    const second = await hashPassword('same', FAST);
    expect(first).not.to.equal(second);
    expect(first.split('$')[2]).not.to.equal(second.split('$')[2]);
    expect(await verifyPassword('same', first)).to.equal(true);
    expect(await verifyPassword('same', second)).to.equal(true);
  });

  it('round-trips a UTF-8 password', async () => {
    const encoded = await hashPassword('pässwörd ✓ 密码', FAST);
    expect(await verifyPassword('pässwörd ✓ 密码', encoded)).to.equal(true);
    expect(await verifyPassword('passwort ✓ 密码', encoded)).to.equal(false);
  });

  it('matches a password typed in decomposed Unicode against one hashed composed (NFKC, RFC 4013 §2.2)', async () => {
    const encoded = await hashPassword('caf\u00e9', FAST);
    expect(await verifyPassword('cafe\u0301', encoded)).to.equal(true);
  });

  it('refuses to hash an empty password (RFC 4616 §2: passwd = 1*SAFE)', async () => {
    let failure: unknown;
    await hashPassword('', FAST).catch((error: unknown) => { failure = error; });
    expect(failure).to.be.instanceOf(RangeError);
  });
});

describe('password-hash: malformed hashes', () => {
  const malformed: Array<[string, string]> = [
    ['an empty string', ''],
    ['a plain-text password', 'hunter2'],
    ['a bcrypt hash', '$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy'],
    ['a hash without its key', `scrypt$N=16384,r=8,p=1$${SALT}$`],
    ['a hash with the parameters in another order', `scrypt$r=8,N=16384,p=1$${SALT}$${KEY}`],
    ['a salt without its padding', `scrypt$N=16384,r=8,p=1$${SALT.replace(/=+$/, '')}$${KEY}`],
    ['a key with stray bits after the last byte', `scrypt$N=16384,r=8,p=1$${SALT}$${KEY.slice(0, -2)}Z=`],
    ['a salt of 4 bytes', `scrypt$N=16384,r=8,p=1$AAAAAA==$${KEY}`],
    ['a key of 8 bytes', `scrypt$N=16384,r=8,p=1$${SALT}$AAAAAAAAAAA=`],
    ['surrounding white space', ` ${withParameters('N=16384,r=8,p=1')} `],
  ];
  for (const [what, encoded] of malformed) {
    it(`treats ${what} as no match, and checkPasswordHash says it is not a minimta password hash`, async () => {
      expect(await verifyPassword('hunter2', encoded)).to.equal(false);
      expect(hashProblem(encoded)).to.match(/^not a minimta password hash \(run `minimta passwd`\)/);
    });
  }

  it('never repeats the hash in the error message', () => {
    const encoded = `scrypt$N=16384,r=8,p=1$${SALT}$AAAA`;
    expect(hashProblem(encoded)).not.to.include('AAAA');
    expect(hashProblem('hunter2')).not.to.include('hunter2');
  });
});

describe('password-hash: bounds on the scrypt parameters', () => {
  const refused: Array<[string, string, RegExp]> = [
    ['N above 2^20', 'N=2097152,r=8,p=1', /N must be a power of two from 2 to 1048576/],
    ['N that is not a power of two', 'N=16000,r=8,p=1', /N must be a power of two/],
    ['N of 1', 'N=1,r=8,p=1', /N must be a power of two/],
    ['r above 16', 'N=1024,r=17,p=1', /r must be from 1 to 16/],
    ['r of 0', 'N=1024,r=0,p=1', /r must be from 1 to 16/],
    ['p above 4', 'N=1024,r=8,p=5', /p must be from 1 to 4/],
    ['N and r needing more than 256 MiB', 'N=262144,r=8,p=1', /needs more than 256 MiB/],
    ['N of 2^16 with r=1 (RFC 7914 §2: N < 2^(16r))', 'N=65536,r=1,p=1', /N must be less than 2\^16/],
    ['a huge N written with many digits', 'N=123456789,r=8,p=1', /not a minimta password hash/],
  ];
  for (const [what, parameters, message] of refused) {
    it(`refuses ${what} without running scrypt`, async () => {
      const encoded = withParameters(parameters);
      expect(hashProblem(encoded)).to.match(message);
      expect(await verifyPassword('x', encoded)).to.equal(false);
    });
  }

  it('accepts parameters at the memory bound (N=2^17, r=8: 128 MiB)', () => {
    expect(() => checkPasswordHash(withParameters('N=131072,r=8,p=4'))).not.to.throw();
  });

  it('refuses to make a hash with parameters it would refuse to check', async () => {
    let failure: unknown;
    await hashPassword('x', { N: 2 ** 21, r: 8, p: 1 }).catch((error: unknown) => { failure = error; });
    expect(failure).to.be.instanceOf(PasswordHashError);
  });

  it('uses N=16384, r=8, p=1 by default', () => {
    expect(DEFAULT_SCRYPT_PARAMETERS).to.deep.equal({ N: 16384, r: 8, p: 1 });
  });
});

describe('password-hash: verifyUser', () => {
  let users: Record<string, string>;
  before(async () => {
    users = { alice: await hashPassword('alice-pw', FAST), 'jörg': await hashPassword('jörg-pw', FAST) };
  });

  it('accepts a known user with the right password, UTF-8 names included', async () => {
    expect(await verifyUser(users, 'alice', 'alice-pw')).to.equal(true);
    expect(await verifyUser(users, 'jörg', 'jörg-pw')).to.equal(true);
  });

  it("rejects a known user with another user's password", async () => {
    expect(await verifyUser(users, 'alice', 'jörg-pw')).to.equal(false);
  });

  it('rejects an unknown user, whatever the password', async () => {
    expect(await verifyUser(users, 'mallory', 'alice-pw')).to.equal(false);
    expect(await verifyUser(users, 'Alice', 'alice-pw')).to.equal(false);
    expect(await verifyUser({}, 'alice', 'alice-pw')).to.equal(false);
  });

  it('spends the same scrypt work on an unknown user as on a known one (no enumeration by timing)', async () => {
    const table = { alice: await hashPassword('alice-pw', { N: 8192, r: 8, p: 1 }) };
    const timed = async (user: string): Promise<number> => {
      const start = process.hrtime.bigint();
      expect(await verifyUser(table, user, 'wrong')).to.equal(false);
      return Number(process.hrtime.bigint() - start);
    };
    // The fastest of five runs each, taken in turn: being preempted only ever
    // adds time, so the minimum is the work done, and a busy spell on a loaded
    // machine falls on both users alike.
    const known: number[] = [];
    const unknown: number[] = [];
    for (let run = 0; run < 5; run++) {
      known.push(await timed('alice'));
      unknown.push(await timed('mallory'));
    }
    // Without the stand-in hash an unknown user would return in microseconds,
    // a thousand times faster than the scrypt work (tens of milliseconds).
    expect(Math.min(...unknown)).to.be.above(Math.min(...known) / 10);
  });

  it('does not take names inherited from Object for users', async () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect(await verifyUser(users, name, 'x'), name).to.equal(false);
    }
  });
});

describe('credentials: the config table and the AUTH answer', () => {
  let users: Record<string, string>;
  before(async () => {
    users = { alice: await hashPassword('alice-pw', FAST) };
  });

  it('accepts a table of minimta hashes', () => {
    expect(() => checkUserTable(users)).not.to.throw();
  });

  it('names the user whose hash is not a minimta hash, in the config error', () => {
    expect(() => checkUserTable({ ...users, bob: 'plaintext-password' }))
      .to.throw(ConfigError, 'config: auth.users.bob: not a minimta password hash (run `minimta passwd`)');
  });

  it('names the user whose hash asks for too much memory', () => {
    expect(() => checkUserTable({ carol: withParameters('N=1048576,r=16,p=4') }))
      .to.throw(ConfigError, /^config: auth\.users\.carol: scrypt/);
  });

  it('answers 235 2.7.0 to good credentials and reports the user', async () => {
    const outcome = await checkCredentials(users, { user: 'alice', password: 'alice-pw' });
    expect(outcome.ok).to.equal(true);
    expect(outcome.ok && outcome.user).to.equal('alice');
    expect([outcome.reply.code, outcome.reply.enhanced]).to.deep.equal([235, '2.7.0']);
  });

  it('answers 535 5.7.8 to a wrong password and to an unknown user alike', async () => {
    for (const credentials of [{ user: 'alice', password: 'nope' }, { user: 'nobody', password: 'alice-pw' }]) {
      const outcome = await checkCredentials(users, credentials);
      expect(outcome.ok).to.equal(false);
      expect([outcome.reply.code, outcome.reply.enhanced]).to.deep.equal([535, '5.7.8']);
      expect(outcome.reply.lines.join(' ')).not.to.include(credentials.password);
    }
  });
});
