// Drives a Session without sockets: an in-memory store and a policy given by
// the test. Dialogs read like SMTP transcripts, through DATA and the final dot:
//   C: MAIL FROM:<a@b.test>
//   S: 250 2.1.0
//   C: DATA
//   S: 354
//   C: Subject: hi
//   C:
//   C: .
//   S: 250 2.0.0

import { expect } from 'chai';
import { ACCEPT_ALL, Session, type ClientInfo, type MessageReceipt, type SessionPolicy, type SessionSettings, type Step } from '../../src/protocol/server/session.js';
import type { Envelope } from '../../src/queue/spool/envelope.js';
import { envelopeOf } from '../../src/queue/spool/message-store.js';
import { DataReader } from '../../src/protocol/server/data-reader.js';
import { reply, replyToString } from '../../src/reply-codes/index.js';
import type { AuthOutcome } from '../../src/auth/credentials.js';

export const TEST_SETTINGS: SessionSettings = {
  hostname: 'mx.minimta.test',
  mode: 'relay',
  refuse: 'stay',
  maxMessageSize: 1_000_000,
  maxRecipients: 100,
  maxErrors: 20,
  softErrorLimit: 1000,
  errorDelayMs: 0,
  maxJunkCommands: 100,
  refuseMaxCommands: 10,
  postmaster: 'postmaster@mx.minimta.test',
  maxHops: 100,
  starttls: false,
  auth: false,
  authRequiresTls: true,
  maxAuthFailures: 3,
  maxLineOctets: 512,
};

export interface StoredMessage { id: string; data: Buffer; envelope: Omit<Envelope, 'size'> }

/** Keeps messages in memory, with the envelope the spool would write for them. */
export class MemoryStore {
  readonly committed: StoredMessage[] = [];
  aborted = 0;
  private next = 1;
  failWith?: Error;

  constructor(private readonly options: { capture?: boolean } = {}) {}

  async begin(): Promise<MessageReceipt> {
    const id = `ID${this.next++}`;
    const parts: Buffer[] = [];
    const store = this;
    return {
      id,
      write: (chunk) => { parts.push(Buffer.from(chunk)); return true; },
      waitForDrain: async () => {},
      async commit(message) {
        if (store.failWith) throw store.failWith;
        const data = Buffer.concat(parts);
        store.committed.push({ id, data, envelope: envelopeOf(id, message, store.options) });
        return { size: data.length };
      },
      async abort() { store.aborted++; },
    };
  }
}

/** One user, alice, password "secret" (checked without scrypt: this is a pure test). */
export async function authenticate(credentials: { user: string; password: string }): Promise<AuthOutcome> {
  return credentials.user === 'alice' && credentials.password === 'secret'
    ? { ok: true, user: 'alice', reply: reply('authSucceeded') }
    : { ok: false, reply: reply('authFailed') };
}

const settingsOf = new WeakMap<Session, SessionSettings>();

/** A session wired as the server wires one: a capture listener judges no one and keeps what it gets. */
export function newSession(settings: Partial<SessionSettings> = {}, policy: SessionPolicy = ACCEPT_ALL, store?: MemoryStore, client: ClientInfo = { ip: '127.0.0.1' }) {
  const capture = settings.mode === 'capture';
  const kept = store ?? new MemoryStore({ capture });
  const session = new Session({ ...TEST_SETTINGS, ...settings }, client, {
    policy: capture ? ACCEPT_ALL : policy,
    store: kept,
    now: () => new Date('2026-11-28T12:00:00Z'),
    authenticate,
  });
  settingsOf.set(session, { ...TEST_SETTINGS, ...settings });
  return { session, store: kept };
}

/** "250 2.1.0" matches a reply with that code and enhanced code; "250" the code alone. */
export function expectReply(step: Step, expected: string): void {
  const [code, enhanced] = expected.split(' ');
  expect(step.replies, `replies for ${expected}`).to.have.length(1);
  const actual = step.replies[0]!;
  expect(replyToString(actual)).to.match(new RegExp(`^${code}${enhanced ? ` ${enhanced.replace(/\./g, '\\.')}( |$)` : ''}`));
}

/**
 * Runs a transcript as the connection would: "C:" lines go in as commands or,
 * after a 354, through the real DataReader into the receipt, up to the final
 * "C: ."; each "S:" line checks the reply to the line before it, and
 * "S: 221 close" also that the connection is closed. In "C:" lines, <CR> and
 * <LF> stand for a bare CR or LF on the wire.
 */
export async function dialog(session: Session, transcript: string): Promise<Step[]> {
  const steps: Step[] = [];
  let last: Step | undefined;
  let data: DataReader | undefined;
  for (const raw of transcript.split('\n')) {
    const line = raw.trimStart();
    if (line.startsWith('C:')) {
      const text = line.slice(2).replace(/^ /, '');
      if (data) {
        const outcome = data.push(Buffer.from(wireText(text) + '\r\n')).outcome;
        if (!outcome) continue;
        data = undefined;
        last = await session.endData(outcome);
      } else {
        last = await session.command(text, { inputPending: false });
      }
      steps.push(last);
      if (last.receive) data = receiving(session, last.receive);
    } else if (line.startsWith('S:')) {
      const expected = line.slice(2).trim();
      const closes = expected.endsWith(' close');
      expect(last, `a reply expected before ${expected}`).to.not.equal(undefined);
      expectReply(last!, expected.replace(/ close$/, ''));
      expect(Boolean(last!.close), `close after ${expected}`).to.equal(closes);
    }
  }
  return steps;
}

function wireText(text: string): string {
  return text.replace(/<CR>/g, '\r').replace(/<LF>/g, '\n');
}

/** The DATA phase as the connection runs it: the Received: header first, then the body through a DataReader. */
function receiving(session: Session, { receipt, header }: { receipt: MessageReceipt; header: Buffer }): DataReader {
  receipt.write(header);
  return new DataReader(settingsOf.get(session)?.maxMessageSize ?? TEST_SETTINGS.maxMessageSize, (chunk) => { receipt.write(chunk); });
}
