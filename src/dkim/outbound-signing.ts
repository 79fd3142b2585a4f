// Which messages minimta signs. Our own users' mail: from a client in
// relay.networks or one that authenticated, when the From: domain has a key.
// Mail relayed from anyone else is never signed: a signature vouches for the
// sender, and we know nothing of theirs. Bounces we write ourselves are
// signed when the domain of our host name has a key (src/mta.ts wires both).

import { matchesAny, parseCidr, type CidrBlock } from '../policy/cidr.js';
import type { Logger } from '../log.js';
import type { DkimSigner, MessageSigning, SignedMessage } from './signer.js';

/** The facts about the submitting client that decide. */
export interface SubmittingClient {
  ip: string;
  authUser?: string;
}

export class OutboundSigning {
  private readonly networks: CidrBlock[];

  constructor(private readonly signer: DkimSigner, networks: readonly string[], private readonly log: Logger) {
    this.networks = networks.map(parseCidr);
  }

  /** Our own users: authenticated, or in relay.networks. */
  trusts(client: SubmittingClient): boolean {
    return client.authUser !== undefined || matchesAny(client.ip, this.networks);
  }

  /** Follows one message as it streams into the spool. */
  start(): StreamedMessage {
    return new StreamedMessage(this, this.signer.start(), this.log);
  }

  /** The DKIM-Signature fields for a message we wrote ourselves (a bounce); undefined when no key applies. */
  signOwn(message: Buffer, id: string): Buffer | undefined {
    return prefixOf(this.signer.signMessage(message), id, this.log);
  }
}

/** The fields to put in front of a signed message; the log says which signatures. */
function prefixOf(signed: SignedMessage | undefined, id: string, log: Logger): Buffer | undefined {
  if (!signed) return undefined;
  log('dkim', `signed ${signed.signatures.join(', ')}`, id);
  return signed.prefix;
}

export class StreamedMessage {
  constructor(private readonly policy: OutboundSigning, private readonly signing: MessageSigning, private readonly log: Logger) {}

  update(chunk: Buffer): void {
    this.signing.update(chunk);
  }

  /** The DKIM-Signature fields to put in front, when this client's message is to be signed. */
  finish(client: SubmittingClient, id: string): Buffer | undefined {
    if (!this.policy.trusts(client)) return undefined;
    return prefixOf(this.signing.finish(), id, this.log);
  }
}
