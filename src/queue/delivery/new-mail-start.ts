// When a message just received starts its delivery.
//
// The relay is one event loop: receiving and delivering share it. A message
// committed to the spool could start at once, in the next turn of the loop.
// But its client's next command (or the next client's connection) arrives
// a few hundred microseconds later, and the delivery's steps would come
// first: opening the session or sending its MAIL, reading the next hop's
// replies, reading the file, writing it out. A client that sends one command
// at a time waits for each reply, and measured with one such client, each of
// its commands took twice as long while the previous message was delivered.
//
// The loop has a quiet moment in every message, though: while the client
// waits for its message to reach the disk (the commit's syncs take a
// millisecond or two in the thread pool, and there is nothing to do for that
// client meanwhile). So while clients are connected, new mail starts at the
// next such moment, when another client's message goes to the disk, or
// NEW_MAIL_WAIT_MS later at the latest (no other message may come), or
// whenever the worker starts what is due for another reason first (a
// delivery ending, a retry falling due). With no client connected it starts
// at once. Postfix gets the same effect from its
// process structure: its queue manager and delivery agents are processes of
// their own, and smtpd does nothing but answer its client.
//
// Only new mail waits: a retry, a flush or a release starts when it is due.

/** The longest new mail waits for a client's disk wait: too short for anyone waiting for the mail to notice. */
export const NEW_MAIL_WAIT_MS = 20;

export class NewMailStart {
  /** The next turn of the loop is already asked for. */
  private nextTurn = false;
  /** New mail waits for a disk wait; at the latest, this timer starts it. */
  private latest?: NodeJS.Timeout;

  /**
   * @param clientsConnected how many clients are connected to the SMTP server now
   * @param start starts whatever is due (the worker's pump)
   * @param waitMs the longest new mail waits while clients are connected
   */
  constructor(
    private readonly clientsConnected: () => number,
    private readonly start: () => void,
    private readonly waitMs: number = NEW_MAIL_WAIT_MS,
  ) {}

  /**
   * New mail is due. Never in this turn: the client's "250 ... queued as"
   * is written in this turn, and the delivery must not go before it.
   */
  due(): void {
    if (this.nextTurn || this.latest) return;
    if (this.clientsConnected() > 0) {
      this.latest = setTimeout(() => this.startNow(), this.waitMs);
      return;
    }
    this.nextTurn = true;
    setImmediate(() => {
      this.nextTurn = false;
      this.start();
    });
  }

  /** A client's message is being synced: the loop has nothing to do for it until the disk answers. */
  clientWaitsForDisk(): void {
    if (this.latest) this.startNow();
  }

  /** Forgets a wait under way (the worker stops; it starts nothing more). */
  cancel(): void {
    clearTimeout(this.latest);
    this.latest = undefined;
  }

  private startNow(): void {
    this.cancel();
    this.start();
  }
}
