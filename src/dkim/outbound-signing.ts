// Which messages minimta signs. Our own users' mail: from a client in
// relay.networks or one that authenticated, when the From: domain has a key.
// Mail relayed from anyone else is never signed: a signature vouches for the
// sender, and we know nothing of theirs. Bounces we write ourselves are
// signed when the domain of our host name has a key (src/mta.ts wires both).

import { matchesAny, parseCidr, type CidrBlock } from '../policy/cidr.js';
import type { Logger } from '../log.js';
import type { DkimSigner, MessageSigning } from './signer.js';

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
    return new StreamedMessage(this, this.signer.start());
  }

  /** The DKIM-Signature fields for a message we wrote ourselves (a bounce); undefined when no key applies. */
  signOwn(message: Buffer, id: string): Buffer | undefined {
    return this.logged(this.signer.signMessage(message), id);
  }

  /** @internal */
  logged(signed: ReturnType<MessageSigning['finish']>, id: string): Buffer | undefined {
    if (!signed) return undefined;
    this.log('dkim', `signed ${signed.signatures.join(', ')}`, id);
    return signed.prefix;
  }
}

export class StreamedMessage {
  constructor(private readonly policy: OutboundSigning, private readonly signing: MessageSigning) {}

  update(chunk: Buffer): void {
    this.signing.update(chunk);
  }

  /** The DKIM-Signature fields to put in front, when this client's message is to be signed. */
  finish(client: SubmittingClient, id: string): Buffer | undefined {
    if (!this.policy.trusts(client)) return undefined;
    return this.policy.logged(this.signing.finish(), id);
  }
}
