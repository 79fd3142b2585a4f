// Which key signs a message, and signing it, whole or as it streams past.
// The signing domain (d=) is the domain of the From: address (RFC 5322
// §3.6.2), or the nearest parent domain with a key (still aligned for
// DMARC, RFC 7489 §3.1.1). A domain with an RSA and an Ed25519 key gets two
// signatures, so receivers that do not know Ed25519 yet still find one they
// can check (RFC 8463 §5).

import { createHash, type Hash } from 'node:crypto';
import { RelaxedBody } from './canonicalization.js';
import { HeaderSection, type HeaderField } from './header-section.js';
import { dkimSignatureField } from './signature.js';
import type { DkimKey } from './dkim-keys.js';

/** A header section larger than this is not signed (no sane message has one). */
const MAX_HEADER_OCTETS = 1024 * 1024;

/** The fields to put in front of a message, and what they are, for the log. */
export interface SignedMessage {
  /** The DKIM-Signature fields, each ending in CRLF. */
  prefix: Buffer;
  /** "d=example.org s=sel a=rsa-sha256" for each signature. */
  signatures: string[];
}

export class DkimSigner {
  private readonly byDomain = new Map<string, DkimKey[]>();

  constructor(keys: readonly DkimKey[], private readonly now: () => Date = () => new Date()) {
    for (const key of keys) {
      const domain = key.domain.toLowerCase();
      this.byDomain.set(domain, [...(this.byDomain.get(domain) ?? []), key]);
    }
  }

  get empty(): boolean {
    return this.byDomain.size === 0;
  }

  /** The keys for a domain: its own, or else those of its nearest parent that has some. */
  keysFor(domain: string): DkimKey[] {
    const labels = domain.toLowerCase().replace(/\.$/, '').split('.');
    for (let i = 0; i < labels.length - 1; i++) {
      const keys = this.byDomain.get(labels.slice(i).join('.'));
      if (keys) return keys;
    }
    return [];
  }

  /** Signs a message held in memory; undefined when no key applies. */
  signMessage(message: Buffer): SignedMessage | undefined {
    const signing = this.start();
    signing.update(message);
    return signing.finish();
  }

  /** Signs a message that streams past in chunks (the SMTP DATA path). */
  start(): MessageSigning {
    return new MessageSigning(this, this.now);
  }
}

/**
 * One message on its way into the spool. The header section is kept; once it
 * is complete and its From: domain has a key, the body is canonicalized and
 * hashed as it arrives. Any other message costs only the header scan.
 */
export class MessageSigning {
  private readonly header = new HeaderSection(MAX_HEADER_OCTETS);
  private readonly canonicalBody = new RelaxedBody();
  private keys?: DkimKey[];
  private readonly hash: Hash = createHash('sha256');
  private fields?: HeaderField[];

  constructor(private readonly signer: DkimSigner, private readonly now: () => Date) {}

  update(chunk: Buffer): void {
    if (this.keys?.length === 0) return;
    const body = this.header.update(chunk.toString('latin1'));
    if (!this.keys) {
      if (!this.header.complete) return;
      this.chooseKeys();
    }
    if (this.keys!.length > 0) this.hashBody(body);
  }

  /** The signatures, once the whole message went through update(); undefined when none applies. */
  finish(): SignedMessage | undefined {
    // A message with no empty line is all header, with an empty body.
    if (!this.keys) this.chooseKeys();
    if (!this.keys?.length || !this.fields) return undefined;
    this.hash.update(this.canonicalBody.final(), 'latin1');
    const bodyHash = this.hash.digest('base64');
    const timestamp = Math.floor(this.now().getTime() / 1000);
    const fields = this.fields;
    const signed = this.keys.map((key) => dkimSignatureField({ key, fields, bodyHash, timestamp }));
    return {
      prefix: Buffer.from(signed.map((f) => `${f}\r\n`).join(''), 'latin1'),
      signatures: this.keys.map((k) => `d=${k.domain} s=${k.selector} a=${k.algorithm}`),
    };
  }

  private chooseKeys(): void {
    this.fields = this.header.fields();
    const domain = this.fields ? fromDomain(this.fields) : undefined;
    this.keys = domain ? this.signer.keysFor(domain) : [];
  }

  private hashBody(text: string): void {
    const canonical = this.canonicalBody.update(text);
    if (canonical) this.hash.update(canonical, 'latin1');
  }
}

/**
 * The domain of the single From: address, lower case. No From:, several
 * From: fields or several addresses in it: no signing domain (RFC 5322
 * §3.6.2 then wants a Sender:; DMARC receivers reject such messages anyway).
 */
export function fromDomain(fields: readonly HeaderField[]): string | undefined {
  const from = fields.filter((f) => f.name.toLowerCase() === 'from');
  if (from.length !== 1) return undefined;
  const value = from[0]!.text.slice(from[0]!.text.indexOf(':') + 1).replace(/\r\n/g, '');
  const withoutComments = value.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\([^()]*\)/g, '');
  if (withoutComments.includes(',')) return undefined;
  const angle = /<([^<>]*)>/.exec(withoutComments);
  const address = (angle ? angle[1]! : withoutComments).trim();
  const at = address.lastIndexOf('@');
  if (at < 1) return undefined;
  const domain = address.slice(at + 1).trim().toLowerCase();
  return /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(domain) ? domain : undefined;
}
