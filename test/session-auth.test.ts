// "vector N" in a title is row N of docs/test-vectors.md.

import { expect } from 'chai';
import { dialog, newSession } from './helpers/session-harness.js';
import type { SessionPolicy } from '../src/protocol/server/session.js';
import { reply, ReplyError } from '../src/reply-codes/index.js';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const plain = (user: string, password: string) => b64(`\0${user}\0${password}`);

/** Relaying only for authenticated users, as the relay policy does for outsiders. */
const relayForUsers: SessionPolicy = {
  checkSender: async () => undefined,
  checkRecipient: async (address, context) => { if (!context.authUser) throw new ReplyError(reply('relayDenied', { address })); },
};

describe('session: AUTH (RFC 4954)', () => {
  const tlsClient = { ip: '192.0.2.7', tls: true };

  it('does not offer AUTH in plaintext and answers it 538 5.7.11 (vector 35)', async () => {
    const { session } = newSession({ auth: true });
    const [ehlo] = await dialog(session, `
      C: EHLO c.test
      S: 250
      C: AUTH PLAIN ${plain('alice', 'secret')}
      S: 538 5.7.11`);
    expect(ehlo!.replies[0]!.lines.join(' ')).to.not.include('AUTH');
  });

  it('offers AUTH PLAIN LOGIN under TLS and accepts good credentials with 235 2.7.0', async () => {
    const { session } = newSession({ auth: true }, relayForUsers, undefined, tlsClient);
    const [ehlo] = await dialog(session, `
      C: EHLO c.test
      S: 250
      C: MAIL FROM:<a@b.test>
      C: RCPT TO:<u@elsewhere.test>
      S: 550 5.7.1
      C: RSET
      C: AUTH PLAIN ${plain('alice', 'secret')}
      S: 235 2.7.0
      C: MAIL FROM:<a@b.test> AUTH=<>
      S: 250 2.1.0
      C: RCPT TO:<u@elsewhere.test>
      S: 250 2.1.5`);
    expect(ehlo!.replies[0]!.lines).to.include('AUTH PLAIN LOGIN');
  });

  it('answers bad credentials 535 5.7.8, an unknown mechanism 504 5.5.4, "*" 501, a second AUTH 503 (vector 36)', async () => {
    const { session } = newSession({ auth: true, maxAuthFailures: 5 }, undefined, undefined, tlsClient);
    await dialog(session, `
      C: EHLO c.test
      C: AUTH PLAIN ${plain('alice', 'wrong')}
      S: 535 5.7.8
      C: AUTH CRAM-X
      S: 504 5.5.4
      C: AUTH LOGIN
      S: 334
      C: *
      S: 501
      C: AUTH LOGIN
      S: 334
      C: ${b64('alice')}
      S: 334
      C: ${b64('secret')}
      S: 235 2.7.0
      C: AUTH PLAIN ${plain('alice', 'secret')}
      S: 503 5.5.1`);
  });

  it('sends an empty 334 challenge when PLAIN comes without an initial response', async () => {
    const { session } = newSession({ auth: true }, undefined, undefined, tlsClient);
    const steps = await dialog(session, `
      C: EHLO c.test
      C: AUTH PLAIN
      S: 334
      C: ${plain('alice', 'secret')}
      S: 235 2.7.0`);
    expect(steps[1]!.replies[0]!.lines).to.deep.equal(['']);
  });

  it('accepts AUTH= on MAIL only when AUTH is advertised (vector 37)', async () => {
    const withAuth = newSession({ auth: true }, undefined, undefined, tlsClient).session;
    await dialog(withAuth, 'C: EHLO c.test\nC: MAIL FROM:<a@b.test> AUTH=<>\nS: 250 2.1.0');
    const without = newSession().session;
    await dialog(without, 'C: EHLO c.test\nC: MAIL FROM:<a@b.test> AUTH=<>\nS: 555 5.5.4');
  });

  it('refuses AUTH before EHLO and inside a transaction with 503 5.5.1', async () => {
    const { session } = newSession({ auth: true }, undefined, undefined, tlsClient);
    await dialog(session, `
      C: AUTH PLAIN ${plain('alice', 'secret')}
      S: 503 5.5.1
      C: EHLO c.test
      C: MAIL FROM:<a@b.test>
      C: AUTH PLAIN ${plain('alice', 'secret')}
      S: 503 5.5.1`);
  });

  it('closes with 421 4.7.0 after too many failed attempts, and never logs the password', async () => {
    const { session } = newSession({ auth: true, maxAuthFailures: 2 }, undefined, undefined, tlsClient);
    const steps = await dialog(session, `
      C: EHLO c.test
      C: AUTH PLAIN ${plain('alice', 'hunter2')}
      S: 535 5.7.8
      C: AUTH PLAIN ${plain('alice', 'hunter3')}
      S: 421 4.7.0 close`);
    const logged = steps.flatMap((s) => s.log ?? []).map((e) => e.text).join('\n');
    expect(logged).to.include('authentication failed for user "alice"');
    expect(logged).to.not.match(/hunter/);
  });

  it('records ESMTPSA and the user in the envelope of an authenticated message', async () => {
    const { session, store } = newSession({ auth: true }, undefined, undefined, tlsClient);
    await dialog(session, `
      C: EHLO c.test
      C: AUTH PLAIN ${plain('alice', 'secret')}
      C: MAIL FROM:<a@b.test>
      C: RCPT TO:<u@normal.test>
      C: DATA
      S: 354
      C: Subject: signed in
      C: .
      S: 250 2.0.0`);
    expect(store.committed[0]!.envelope.client).to.deep.include({ protocol: 'ESMTPSA', authUser: 'alice' });
  });

  it('forgets the authentication after STARTTLS (RFC 3207 §4.2)', async () => {
    const { session } = newSession({ auth: true, starttls: true, authRequiresTls: false });
    await dialog(session, `
      C: EHLO c.test
      C: AUTH PLAIN ${plain('alice', 'secret')}
      S: 235 2.7.0
      C: STARTTLS
      S: 220 2.0.0`);
    session.tlsStarted();
    await dialog(session, `
      C: EHLO c.test
      C: AUTH PLAIN ${plain('alice', 'secret')}
      S: 235 2.7.0`);
  });
});
