// Which recipients of one delivery attempt are decided, and by which reply.
// A recipient is decided by a negative RCPT reply, or else by whatever ends
// the transaction: the reply after the final dot, or the failure that cut the
// session short.

import { isPositive, type Reply } from '../../reply-codes/index.js';

export interface RecipientResult {
  readonly address: string;
  /** 2xx delivered, 4xx temporary, 5xx permanent. */
  readonly reply: Reply;
}

export class RecipientLedger {
  private readonly decided: (Reply | undefined)[];
  private accepted = 0;
  private started = false;

  constructor(private readonly addresses: readonly string[]) {
    this.decided = addresses.map(() => undefined);
  }

  /** MAIL was accepted: from now on failures belong to recipients, not to the host. */
  startTransaction(): void {
    this.started = true;
  }

  get transactionStarted(): boolean {
    return this.started;
  }

  get anyAccepted(): boolean {
    return this.accepted > 0;
  }

  /** The reply to the RCPT for recipient i: accepted, or decided by it. */
  recordRcpt(i: number, rcptReply: Reply): void {
    if (isPositive(rcptReply)) this.accepted++;
    else this.decided[i] = asRcptReply(rcptReply);
  }

  /** Decides every recipient not decided yet. */
  decideRest(cause: Reply): void {
    for (const [i, reply] of this.decided.entries()) this.decided[i] = reply ?? cause;
  }

  results(): RecipientResult[] {
    return this.addresses.map((address, i) => {
      const reply = this.decided[i];
      if (!reply) throw new Error(`recipient ${address} was never decided`);
      return { address, reply };
    });
  }
}

/**
 * RFC 5321 §4.5.3.1.10: some servers answer RCPT with 552 for "too many
 * recipients"; a client treats it as 452, so the recipient is retried. The
 * text is kept; the enhanced code moves to class 4 as well.
 */
function asRcptReply(rcptReply: Reply): Reply {
  if (rcptReply.code !== 552) return rcptReply;
  const enhanced = rcptReply.enhanced?.replace(/^5/, '4');
  return enhanced ? { ...rcptReply, code: 452, enhanced } : { code: 452, lines: rcptReply.lines };
}
