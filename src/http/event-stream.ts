// GET /api/events: Server-Sent Events (WHATWG HTML §9.2), one event per
// message received, delivered, deferred, bounced or deleted, and per fault
// rule that fired. A comment line every 15 s keeps proxies from closing an
// idle stream.

import type { ServerResponse } from 'node:http';
import type { MtaEvent, MtaEventType, MtaEvents } from '../inbox/mta-events.js';

const STREAMED: MtaEventType[] = ['received', 'delivered', 'deferred', 'bounced', 'deleted', 'fault'];
const HEARTBEAT_MS = 15_000;

export function streamEvents(events: MtaEvents, response: ServerResponse): void {
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
  });
  // Sent at once, so a client knows the stream is open before any event.
  response.write(': minimta events\n\n');
  const send = (event: MtaEvent) => { response.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`); };
  for (const type of STREAMED) events.on(type, send);
  const heartbeat = setInterval(() => response.write(': keep-alive\n\n'), HEARTBEAT_MS);
  response.on('close', () => {
    clearInterval(heartbeat);
    for (const type of STREAMED) events.off(type, send);
  });
}
