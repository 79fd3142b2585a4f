// What happens to messages, as events: the JS API's `events`, the HTTP API's
// Server-Sent Events stream and the web inbox's live list all read these.

import { EventEmitter } from 'node:events';

export type MtaEventType = 'received' | 'delivered' | 'deferred' | 'bounced' | 'deleted' | 'fault';

export interface MtaEvent {
  type: MtaEventType;
  /** The queue id, when the event is about one message. */
  id?: string;
  /** delivered, deferred, bounced: the recipient concerned. */
  recipient?: string;
  /** delivered, deferred, bounced: the next hop's reply; fault: the reply the rule gave. */
  reply?: string;
  /** fault: a description of the rule that fired, and the stage. */
  rule?: string;
  stage?: string;
  /** ISO 8601. */
  at: string;
}

export type MtaEventMap = { [K in MtaEventType]: [MtaEvent] };

export class MtaEvents extends EventEmitter<MtaEventMap> {
  constructor() {
    super();
    // Many SSE clients and waiting tests may listen at once; each removes itself.
    this.setMaxListeners(0);
  }

  publish(event: Omit<MtaEvent, 'at'>): void {
    this.emit(event.type, { ...event, at: new Date().toISOString() });
  }
}
