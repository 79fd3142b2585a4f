// The relay policy as a transcript sees it: the same checks, with the verdict
// written down between the lines (the relay check, and the DNS answer for the
// domain with what it means: null MX, implicit MX, NXDOMAIN).

import { ReplyError, replyToString } from '../reply-codes/index.js';
import type { PolicyContext, SessionPolicy } from '../protocol/server/session-types.js';
import type { WireRecorder } from './recorder.js';

/** What DNS says about a domain, in `minimta resolve`'s words (cached lookups); [] where the role is not checked in DNS. */
export type DomainDescriber = (domain: string, role: 'sender' | 'recipient') => Promise<string[]>;

export function tracedPolicy(policy: SessionPolicy, recorder: WireRecorder, describeDomain?: DomainDescriber): SessionPolicy {
  async function traced(role: 'sender' | 'recipient', address: string, check: () => Promise<void>): Promise<void> {
    let refusal: ReplyError | undefined;
    try {
      await check();
    } catch (err) {
      if (!(err instanceof ReplyError)) throw err;
      refusal = err;
    }
    const relayRefused = refusal?.reply.enhanced === '5.7.1';
    if (role === 'recipient') {
      recorder.note(relayRefused
        ? `relay check: <${address}>: this client may not relay there (not in relay.networks, not authenticated, domain not in relay.domains)`
        : `relay check: <${address}>: allowed`);
    }
    const domain = address.slice(address.lastIndexOf('@') + 1);
    if (describeDomain && !relayRefused && domain) {
      for (const line of await describeDomain(domain, role).catch((err: Error) => [`${domain}: lookup failed: ${err.message}`])) recorder.note(`DNS ${line}`);
    }
    recorder.note(refusal ? `verdict: ${role} <${address}> refused: ${replyToString(refusal.reply)}` : `verdict: ${role} <${address}> accepted`);
    if (refusal) throw refusal;
  }
  return {
    checkSender: (address: string, context: PolicyContext) => traced('sender', address, () => policy.checkSender(address, context)),
    checkRecipient: (address: string, context: PolicyContext) => traced('recipient', address, () => policy.checkRecipient(address, context)),
  };
}
