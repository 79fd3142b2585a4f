// The small interface the SMTP server's connection and the delivery client
// call while they talk, when tracing is on (optional everywhere: no recorder,
// no cost). Transcript implements it.

import type { Reply } from '../reply-codes/index.js';

export interface WireRecorder {
  /** A line the SMTP client sent (a command, or an AUTH response). */
  client(line: string): void;
  /** A reply from the SMTP server; `ours` when minimta is the server. */
  server(reply: Reply, ours: boolean): void;
  /** The TLS handshake finished. */
  tls(protocol: string, cipher: string): void;
  /** Message bytes as received (after dot-unstuffing). */
  body(chunk: Buffer): void;
  /** A decision made between lines. */
  note(text: string): void;
  /** The conversation is over. */
  end(text?: string): void;
}
