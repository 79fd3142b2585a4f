// Framing of the control protocol: one JSON value per line, LF-terminated.
// A peer that sends a longer line than agreed is cut off rather than
// buffered without end.

export type LineEvent =
  | { kind: 'line'; text: string }
  /** The line in progress passed maxBytes; nothing more is read from this stream. */
  | { kind: 'too-long' };

export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private overflowed = false;

  constructor(private readonly maxBytes: number) {}

  /** The complete lines in `chunk` (without their LF), in order; a too-long line ends the stream. */
  push(chunk: Buffer): LineEvent[] {
    if (this.overflowed) return [];
    const events: LineEvent[] = [];
    let start = 0;
    for (let end = chunk.indexOf(0x0a); end !== -1; end = chunk.indexOf(0x0a, start)) {
      if (this.pendingBytes + (end - start) > this.maxBytes) return this.overflow(events);
      this.pending.push(chunk.subarray(start, end));
      events.push({ kind: 'line', text: Buffer.concat(this.pending).toString('utf8') });
      this.pending = [];
      this.pendingBytes = 0;
      start = end + 1;
    }
    const rest = chunk.subarray(start);
    if (this.pendingBytes + rest.length > this.maxBytes) return this.overflow(events);
    if (rest.length > 0) {
      this.pending.push(rest);
      this.pendingBytes += rest.length;
    }
    return events;
  }

  private overflow(events: LineEvent[]): LineEvent[] {
    this.overflowed = true;
    this.pending = [];
    this.pendingBytes = 0;
    events.push({ kind: 'too-long' });
    return events;
  }
}
