// The spool as the SMTP session sees it: a MessageStore. The session hands
// over what was agreed on the wire (an AcceptedMessage); here the queue turns
// it into its own Envelope, so the protocol never builds a queue type.

import type { AcceptedMessage, MessageReceipt, MessageStore } from '../../protocol/server/session.js';
import { newEnvelope, type Envelope } from './envelope.js';
import type { Spool } from './spool.js';

export interface SpoolStoreOptions {
  /** Messages from a capture listener: kept in the queue, never delivered. */
  capture?: boolean;
  /** Called once a message is durably queued, with its envelope (the delivery worker schedules it). */
  committed?: (envelope: Envelope) => void;
  /**
   * DKIM (src/dkim/outbound-signing.ts): follows each message as it streams
   * in; at commit, the DKIM-Signature fields to store in front of it, if any.
   */
  signing?: { start(): StreamSigning };
}

export interface StreamSigning {
  update(chunk: Buffer): void;
  finish(client: { ip: string; authUser?: string }, id: string): Buffer | undefined;
}

/** The envelope of a message just accepted over SMTP. */
export function envelopeOf(id: string, message: AcceptedMessage, options: { capture?: boolean } = {}): Omit<Envelope, 'size'> {
  const { client } = message;
  return newEnvelope({
    id,
    arrivedAt: message.receivedAt,
    client: {
      ip: client.ip,
      ehlo: client.helo,
      protocol: message.protocol,
      ...(client.authUser !== undefined ? { authUser: client.authUser } : {}),
    },
    sender: message.sender,
    recipients: message.recipients,
    body: message.params.body ?? '7BIT',
    smtputf8: message.params.smtputf8,
    capture: options.capture ?? false,
    ret: message.params.ret,
    envid: message.params.envid,
    recipientDsn: message.recipientParams.map(({ notify, orcpt }) => ({
      ...(notify ? { notify } : {}),
      ...(orcpt ? { orcpt: `${orcpt.type};${orcpt.address}` } : {}),
    })),
  });
}

export function spoolStore(spool: Spool, options: SpoolStoreOptions = {}): MessageStore {
  return {
    async begin(): Promise<MessageReceipt> {
      const receipt = await spool.beginReceipt();
      const signing = options.signing?.start();
      return {
        id: receipt.id,
        write: (chunk) => {
          signing?.update(chunk);
          return receipt.write(chunk);
        },
        waitForDrain: () => receipt.waitForDrain(),
        abort: () => receipt.abort(),
        async commit(message) {
          const stored = await receipt.commit(envelopeOf(receipt.id, message, options), signing?.finish(message.client, receipt.id));
          options.committed?.(stored);
          return { size: stored.size };
        },
      };
    },
  };
}
