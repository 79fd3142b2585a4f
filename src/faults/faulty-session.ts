// The one seam where fault rules act: a decorator around the session, with
// the same face the connection sees. At each stage it asks the rules; when
// none fires, the session answers as always. When one fires, its action
// replaces the session's answer: a reply (the session never sees the
// command, so its state is as if the command had been refused), a delay,
// a close, or, around the message itself, a refusal or a silent discard at
// the end of data and a drop after N bytes of data.
//
// To match senders and recipients, it watches which MAIL and RCPT commands
// the session accepted; it decides nothing about the protocol itself.

import { ReplyError, type Reply } from '../reply-codes/index.js';
import { splitCommand } from '../protocol/server/commands.js';
import { parsePath, splitPathAndParams } from '../protocol/shared/address.js';
import type { ConnectionSession } from '../protocol/server/connection.js';
import type { SessionSite } from '../protocol/server/server.js';
import type { MessageReceipt, MessageStore, Step, WireContext } from '../protocol/server/session.js';
import type { DataOutcome } from '../protocol/server/data-reader.js';
import type { FaultDecision, FaultFacts, FaultRules } from './fault-engine.js';
import type { FaultStage } from './fault-rule.js';

export type FaultSite = SessionSite;

const STAGE_OF_VERB: Record<string, FaultStage> = {
  EHLO: 'ehlo', HELO: 'ehlo', STARTTLS: 'starttls', AUTH: 'auth', MAIL: 'mail', RCPT: 'rcpt', DATA: 'data',
};

/** The receipt as the session sees it: counts data bytes and lets a rule refuse or discard at commit. */
class FaultReceipt implements MessageReceipt {
  private written = 0;
  dropAfter?: number;
  refuseWith?: Reply;
  discard = false;
  dropped = false;

  constructor(private readonly inner: MessageReceipt, private readonly headerBytes: () => number, private readonly drop: () => void) {}

  get id(): string {
    return this.inner.id;
  }

  write(chunk: Buffer): boolean {
    this.written += chunk.length;
    if (this.dropAfter !== undefined && !this.dropped && this.written - this.headerBytes() > this.dropAfter) {
      this.dropped = true;
      this.drop();
    }
    return this.inner.write(chunk);
  }

  waitForDrain(): Promise<void> {
    return this.inner.waitForDrain();
  }

  async commit(envelope: Parameters<MessageReceipt['commit']>[0]): Promise<{ size: number }> {
    if (this.refuseWith) throw new ReplyError(this.refuseWith);
    if (!this.discard) return this.inner.commit(envelope);
    await this.inner.abort();
    return { size: this.written };
  }

  abort(): Promise<void> {
    return this.inner.abort();
  }
}

/**
 * A session with fault rules: `makeSession` builds the real session on the
 * store it is given, so that every receipt the session opens passes through
 * here (counted for a drop mid-DATA, refused or discarded at the commit).
 */
export function withFaults(
  makeSession: (store: MessageStore) => ConnectionSession,
  store: MessageStore,
  rules: FaultRules,
  site: FaultSite,
): ConnectionSession {
  let session!: FaultySession;
  const faultyStore: MessageStore = {
    async begin() {
      const receipt = await store.begin();
      return session.opened(receipt);
    },
  };
  session = new FaultySession(makeSession(faultyStore), rules, site);
  return session;
}

class FaultySession implements ConnectionSession {
  /** The transaction as the session accepted it: what sender and recipient matches look at. */
  private transaction?: { sender: string; recipients: string[] };
  private receipt?: FaultReceipt;
  private headerBytes = 0;

  constructor(private readonly inner: ConnectionSession, private readonly rules: FaultRules, private readonly site: FaultSite) {}

  /** The session opened a receipt (at DATA): it gets ours around it. */
  opened(receipt: MessageReceipt): MessageReceipt {
    this.receipt = new FaultReceipt(receipt, () => this.headerBytes, this.site.drop);
    return this.receipt;
  }

  get busy(): boolean {
    return this.inner.busy;
  }

  open(): Step | Promise<Step> {
    const decision = this.decide({ stage: 'connect' });
    if (!decision) return this.inner.open();
    // A refused greeting ends the session (RFC 5321 §3.1: the client can only QUIT).
    if (decision.reply) return { ...this.fired(decision, 'connect'), replies: [decision.reply], close: 'hangup' };
    return this.act(decision, 'connect', async () => this.inner.open());
  }

  async command(line: string, wire: WireContext = {}): Promise<Step> {
    const { verb, arg } = splitCommand(line);
    const stage = STAGE_OF_VERB[verb];
    const facts = stage ? this.factsFor(stage, arg) : undefined;
    const decision = facts ? this.decide(facts) : undefined;
    const step = decision ? await this.act(decision, stage!, () => this.inner.command(line, wire)) : await this.inner.command(line, wire);
    if (!decision || decision.action.kind === 'delay-only' || decision.action.kind === 'close-after-bytes') this.observe(verb, facts, step);
    if (decision?.action.kind === 'close-after-bytes' && step.receive) this.receipt!.dropAfter = decision.action.bytes;
    return step;
  }

  async endData(outcome: DataOutcome): Promise<Step> {
    const receipt = this.receipt;
    const transaction = this.transaction;
    this.receipt = undefined;
    this.transaction = undefined;
    // Dropped mid-DATA: whatever came after is not a message.
    if (receipt?.dropped) return { replies: [], close: 'hangup' };
    const decision = outcome.kind === 'complete' && receipt
      ? this.decide({ stage: 'end-of-data', sender: transaction?.sender, recipients: transaction?.recipients ?? [] })
      : undefined;
    if (decision && receipt) {
      if (decision.reply) receipt.refuseWith = decision.reply;
      if (decision.action.kind === 'discard') receipt.discard = true;
    }
    const step = decision
      ? await this.act(decision, 'end-of-data', () => this.inner.endData(outcome))
      : await this.inner.endData(outcome);
    if (step.replies[0]?.code === 250) this.rules.messageAccepted();
    return step;
  }

  lineTooLong(): Step { return this.inner.lineTooLong(); }
  bareLineEnd(kind: 'bare-lf' | 'bare-cr'): Promise<Step> { return this.inner.bareLineEnd(kind); }
  timeout(): Promise<Step> { return this.inner.timeout(); }
  tooSlow(): Promise<Step> { return this.inner.tooSlow(); }
  unreadReplies(): Promise<Step> { return this.inner.unreadReplies(); }
  crashed(): Promise<Step> { return this.inner.crashed(); }
  shutdown(): Promise<Step> { return this.inner.shutdown(); }
  disconnected(): Promise<void> { return this.inner.disconnected(); }

  tlsStarted(): void {
    // RFC 3207 §4.2: the session starts over after TLS.
    this.transaction = undefined;
    this.inner.tlsStarted();
  }

  /** The facts of a command's stage, or undefined when the command cannot be at that stage now. */
  private factsFor(stage: FaultStage, arg: string): Omit<FaultFacts, 'clientIp' | 'listenerPort'> | undefined {
    switch (stage) {
      case 'mail':
        return this.transaction ? undefined : { stage, sender: addressIn(arg, /^FROM:/i, 'sender') };
      case 'rcpt': {
        if (!this.transaction) return undefined;
        const recipient = addressIn(arg, /^TO:/i, 'recipient');
        return { stage, sender: this.transaction.sender, recipients: recipient === undefined ? [] : [recipient] };
      }
      case 'data':
        return this.transaction && this.transaction.recipients.length > 0
          ? { stage, sender: this.transaction.sender, recipients: this.transaction.recipients }
          : undefined;
      default:
        return { stage };
    }
  }

  /** Keeps track of what the session accepted (2xx to MAIL and RCPT; a reset by RSET, HELO, EHLO). */
  private observe(verb: string, facts: Omit<FaultFacts, 'clientIp' | 'listenerPort'> | undefined, step: Step): void {
    const accepted = Math.floor((step.replies[0]?.code ?? 0) / 100) === 2;
    if (verb === 'MAIL' && accepted && facts) this.transaction = { sender: facts.sender ?? '', recipients: [] };
    else if (verb === 'RCPT' && accepted && facts?.recipients?.[0] !== undefined) this.transaction?.recipients.push(facts.recipients[0]);
    else if ((verb === 'RSET' || verb === 'EHLO' || verb === 'HELO') && accepted) this.transaction = undefined;
    // The trace header goes into the receipt first; a drop counts only the client's bytes.
    if (verb === 'DATA' && step.receive) this.headerBytes = step.receive.header.length;
    if (step.close) this.transaction = undefined;
  }

  private decide(facts: Omit<FaultFacts, 'clientIp' | 'listenerPort'>): FaultDecision | undefined {
    if (this.rules.empty) return undefined;
    return this.rules.decide({ ...facts, clientIp: this.site.clientIp, listenerPort: this.site.listenerPort });
  }

  /** What a fired rule does instead of (or around) the session's own answer. */
  private async act(decision: FaultDecision, stage: FaultStage, normal: () => Promise<Step>): Promise<Step> {
    const noted = this.fired(decision, stage);
    const delayed = (step: Step): Step => ({
      ...step,
      ...(decision.delayMs ? { delayMs: (step.delayMs ?? 0) + decision.delayMs } : {}),
      log: [...noted.log!, ...(step.log ?? [])],
    });
    switch (decision.action.kind) {
      case 'reply':
      case 'rate':
        // The session commits through our receipt, which refuses with the reply: the session aborts and answers it.
        if (stage === 'end-of-data') return delayed(await normal());
        // RFC 5321 §3.8: 421 means the service is closing the channel.
        return delayed({ replies: [decision.reply!], ...(decision.reply!.code === 421 ? { close: 'hangup' } : {}) });
      case 'close':
        return delayed({ replies: [], close: 'hangup' });
      case 'discard':
      case 'delay-only':
      case 'close-after-bytes':
        return delayed(await normal());
    }
  }

  private fired(decision: FaultDecision, stage: FaultStage): Step & { log: NonNullable<Step['log']> } {
    this.rules.onFired?.(decision, stage);
    const what = decision.reply ? `${decision.reply.code}${decision.reply.enhanced ? ` ${decision.reply.enhanced}` : ''}` : decision.action.kind;
    return { replies: [], log: [{ text: `fault: rule ${decision.rule.description} fired at ${stage} for [${this.site.clientIp}]: ${what}` }] };
  }
}

/** The address in "FROM:<a@b> …" / "TO:<a@b> …", or undefined if it does not parse. */
function addressIn(arg: string, prefix: RegExp, role: 'sender' | 'recipient'): string | undefined {
  if (!prefix.test(arg)) return undefined;
  try {
    const path = parsePath(splitPathAndParams(arg.replace(prefix, '').trimStart()).pathText, role, { utf8: true, strict: false });
    return path.kind === 'mailbox' ? path.address : path.kind === 'postmaster' ? 'postmaster' : '';
  } catch {
    return undefined;
  }
}
