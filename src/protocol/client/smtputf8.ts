// Whether a message needs SMTPUTF8 at the next hop (RFC 6531 §3.4). The
// client that gave it to us may have said SMTPUTF8 for a message that is all
// ASCII (many clients say it whenever the server offers it). Such a message
// goes to a next hop without SMTPUTF8 as it is, unchanged, as Postfix sends
// it; only UTF-8 in the envelope or in the header section needs the
// extension. The body is not looked at: 8-bit body text is a matter for
// 8BITMIME (RFC 6152), not for SMTPUTF8.

export interface Utf8Facts {
  sender: string;
  /** The recipients of this delivery, as they will be sent in RCPT TO. */
  recipients: readonly string[];
  /** The message's header section, as stored. */
  header: Buffer;
}

const NON_ASCII = /[^\x00-\x7f]/;

export function needsSmtputf8(message: Utf8Facts): boolean {
  return NON_ASCII.test(message.sender)
    || message.recipients.some((address) => NON_ASCII.test(address))
    || message.header.some((byte) => byte > 0x7f);
}
