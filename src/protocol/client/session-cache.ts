// Sessions kept open between messages to the same next hop (connection
// reuse, as Postfix's scache does): after a transaction that ended in step,
// the session waits here for the next message bound to the same host,
// address, port and TLS/AUTH settings. Bounded by idle time (a few seconds:
// a receiver may close idle sessions, RFC 5321 §4.5.3.2.7) and by messages
// per session; at either bound it is ended with QUIT.

import type { ClientSession } from './client-session.js';
import type { DeliveryRequest } from './request.js';

export interface ReuseLimits {
  /** How long an idle session waits for another message. */
  idleMs: number;
  /** Messages one session carries at most. */
  maxMessages: number;
}

export const DEFAULT_REUSE_LIMITS: Readonly<ReuseLimits> = { idleMs: 2000, maxMessages: 100 };

interface Idle {
  readonly session: ClientSession;
  readonly timer: NodeJS.Timeout;
}

export class SessionCache {
  private readonly idle = new Map<string, Idle[]>();
  private closed = false;

  constructor(private readonly limits: ReuseLimits = DEFAULT_REUSE_LIMITS) {}

  /** An idle session for this request's next hop, if one is open; it is the caller's now. */
  take(req: DeliveryRequest): ClientSession | undefined {
    const key = sessionKey(req);
    const list = this.idle.get(key);
    while (list && list.length > 0) {
      const { session, timer } = list.pop()!;
      clearTimeout(timer);
      if (list.length === 0) this.idle.delete(key);
      if (session.reusable) return session;
      void session.end();
    }
    return undefined;
  }

  /** Hands a session back after a transaction: kept for the next message, or ended. */
  keep(req: DeliveryRequest, session: ClientSession): void {
    if (this.closed || !session.reusable || session.transactions >= this.limits.maxMessages) {
      void session.end();
      return;
    }
    const key = sessionKey(req);
    const list = this.idle.get(key) ?? [];
    const entry: Idle = {
      session,
      timer: setTimeout(() => {
        const at = list.indexOf(entry);
        if (at >= 0) list.splice(at, 1);
        if (list.length === 0 && this.idle.get(key) === list) this.idle.delete(key);
        void session.end();
      }, this.limits.idleMs),
    };
    entry.timer.unref();
    list.push(entry);
    this.idle.set(key, list);
  }

  /** Ends every idle session (QUIT); no session is kept after this. */
  async close(): Promise<void> {
    this.closed = true;
    const ending: Promise<void>[] = [];
    for (const list of this.idle.values()) {
      for (const { session, timer } of list) {
        clearTimeout(timer);
        ending.push(session.end());
      }
    }
    this.idle.clear();
    await Promise.all(ending);
  }
}

/** Sessions are interchangeable only between requests that would open the same session. */
function sessionKey(req: DeliveryRequest): string {
  return JSON.stringify([req.address, req.port, req.host, req.heloName, req.localAddress ?? '', req.tls ?? 'opportunistic',
    req.tlsVerify ?? false, req.auth?.username ?? '']);
}
