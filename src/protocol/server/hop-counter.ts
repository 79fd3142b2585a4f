// Counts the Received: fields in a message's header section as the message
// streams past, for the loop rule (RFC 5321 §6.3: a count above a threshold
// of at least 100 means a loop). Only the header section is looked at: the
// body is never inspected (RFC 5321 §2.4).

const RECEIVED = 'received:';

export class HopCounter {
  count = 0;
  private inHeader = true;
  private atLineStart = true;
  /** The first characters of the current line, lower-cased, up to 9. */
  private lineStart = '';

  observe(bytes: Buffer): void {
    if (!this.inHeader) return;
    for (let i = 0; i < bytes.length && this.inHeader; i++) {
      const byte = bytes[i]!;
      if (byte === 0x0a) {
        // CRLF at the start of a line: the empty line that ends the header (RFC 5322 §2.1).
        if (this.lineStart === '\r') this.inHeader = false;
        this.atLineStart = true;
        this.lineStart = '';
        continue;
      }
      if (!this.atLineStart) continue;
      this.lineStart += String.fromCharCode(byte).toLowerCase();
      if (this.lineStart === RECEIVED) this.count++;
      if (this.lineStart.length >= RECEIVED.length || !RECEIVED.startsWith(this.lineStart) && this.lineStart !== '\r') {
        this.atLineStart = false;
      }
    }
  }
}
