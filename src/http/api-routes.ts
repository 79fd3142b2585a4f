// The HTTP API as a table: method, path, and what it does. Every answer is
// JSON except the raw message source and the event stream.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Mailbox } from '../inbox/mailbox.js';
import type { MtaEvents } from '../inbox/mta-events.js';
import type { QueueOperations } from '../queue/spool/queue-admin.js';
import type { FaultRules } from '../faults/fault-engine.js';
import { readStoredTranscript, type TraceStore } from '../trace/trace-store.js';
import { filterFromQuery } from '../inbox/message-filter.js';
import { streamEvents } from './event-stream.js';
import { HttpError } from './http-error.js';
import { EXPOSITION_CONTENT_TYPE } from '../metrics/registry.js';

export interface ApiDeps {
  mailbox: Mailbox;
  queue: QueueOperations;
  events: MtaEvents;
  faults: FaultRules;
  /** The ring of recent SMTP sessions; absent when tracing (config `trace`) is off. */
  trace?: TraceStore;
  /** The spool directory, where a message's stored transcripts are. */
  spoolDir: string;
  /** Whether the MTA is up and its listeners bound (GET /readyz). */
  ready: () => boolean;
  /** The metrics in Prometheus text format (GET /metrics). */
  metrics: () => Promise<string>;
}

export interface RouteContext {
  params: string[];
  query: URLSearchParams;
  request: IncomingMessage;
  response: ServerResponse;
  /** The request body parsed as JSON (PUT, POST). */
  body(): Promise<unknown>;
  /** Aborted when the client goes away (a long-poll stops waiting). */
  signal: AbortSignal;
}

export type RouteResult =
  | { status?: number; json: unknown }
  | { status?: number; raw: Buffer; type: string }
  | { streamed: true };

interface Route {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  path: RegExp;
  handle(context: RouteContext): Promise<RouteResult>;
}

const ID = '([^/]+)';
/** A long-poll waits at most this long, whatever the client asks. */
const MAX_WAIT_SECONDS = 300;

function waitSeconds(query: URLSearchParams): number {
  const text = query.get('timeout') ?? '30';
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 0) throw new HttpError(400, 'EBADREQUEST', `timeout: not a number of seconds: ${JSON.stringify(text)}`);
  return Math.min(seconds, MAX_WAIT_SECONDS);
}

const TRACE_OFF = 'tracing is off: set config "trace": {"enabled": true} or start with --trace';

export function apiRoutes(deps: ApiDeps): Route[] {
  const { mailbox, queue, events, faults } = deps;
  const traceStore = (): TraceStore => {
    if (!deps.trace) throw new HttpError(409, 'ETRACEOFF', TRACE_OFF);
    return deps.trace;
  };
  const json = (value: unknown, status?: number): RouteResult => ({ json: value, ...(status ? { status } : {}) });
  return [
    { method: 'GET', path: /^\/readyz$/, handle: async () => (deps.ready() ? json({ ready: true }) : json({ ready: false }, 503)) },
    { method: 'GET', path: /^\/metrics$/, handle: async () => ({ raw: Buffer.from(await deps.metrics()), type: EXPOSITION_CONTENT_TYPE }) },
    { method: 'GET', path: /^\/api\/messages$/, handle: async ({ query }) => json(await mailbox.list(filterFromQuery(query))) },
    { method: 'DELETE', path: /^\/api\/messages$/, handle: async () => json({ deleted: await mailbox.deleteAll() }) },
    {
      method: 'GET',
      path: /^\/api\/messages\/wait$/,
      handle: async ({ query, signal }) => json(await mailbox.waitFor(filterFromQuery(query), waitSeconds(query) * 1000, signal)),
    },
    { method: 'GET', path: new RegExp(`^/api/messages/${ID}$`), handle: async ({ params }) => json(await mailbox.get(params[0]!)) },
    {
      method: 'GET',
      path: new RegExp(`^/api/messages/${ID}/raw$`),
      handle: async ({ params }) => ({ raw: await mailbox.raw(params[0]!), type: 'message/rfc822' }),
    },
    {
      method: 'GET',
      path: new RegExp(`^/api/messages/${ID}/transcript$`),
      handle: async ({ params }) => {
        const id = params[0]!;
        await queue.show(id);
        // A session that just ended may still be on its way to the disk.
        await deps.trace?.flushed();
        const text = await readStoredTranscript(deps.spoolDir, id);
        if (text === undefined) throw new HttpError(404, 'ENOTRANSCRIPT', `no transcript stored for ${id} (${deps.trace ? 'it arrived while tracing was off' : TRACE_OFF})`);
        return json({ id, text });
      },
    },
    {
      method: 'DELETE',
      path: new RegExp(`^/api/messages/${ID}$`),
      handle: async ({ params }) => { await mailbox.delete(params[0]!); return json({ deleted: params[0] }); },
    },
    { method: 'GET', path: /^\/api\/faults$/, handle: async () => json(faults.specs()) },
    { method: 'PUT', path: /^\/api\/faults$/, handle: async ({ body }) => json(faults.setFromJson(await body())) },
    { method: 'DELETE', path: /^\/api\/faults$/, handle: async () => json(faults.setFromJson([])) },
    { method: 'GET', path: /^\/api\/sessions$/, handle: async () => json(traceStore().recent()) },
    {
      method: 'GET',
      path: new RegExp(`^/api/sessions/${ID}$`),
      handle: async ({ params }) => {
        const found = traceStore().get(params[0]!);
        if (!found) throw new HttpError(404, 'ENOSESSION', `no session ${params[0]} in the ring of recent sessions`);
        return json(found);
      },
    },
    { method: 'GET', path: /^\/api\/events$/, handle: async ({ response }) => { streamEvents(events, response); return { streamed: true }; } },
    // The control socket's operations (minimta queue …), by the same names.
    { method: 'GET', path: /^\/api\/queue$/, handle: async () => json(await queue.list()) },
    { method: 'DELETE', path: /^\/api\/queue$/, handle: async () => json(await queue.purge()) },
    { method: 'POST', path: /^\/api\/queue\/flush$/, handle: async () => json(await queue.flush()) },
    { method: 'GET', path: new RegExp(`^/api/queue/${ID}$`), handle: async ({ params }) => json(await queue.show(params[0]!)) },
    { method: 'DELETE', path: new RegExp(`^/api/queue/${ID}$`), handle: async ({ params }) => json(await queue.delete(params[0]!)) },
    { method: 'POST', path: new RegExp(`^/api/queue/${ID}/retry$`), handle: async ({ params }) => json(await queue.retry(params[0]!)) },
    { method: 'POST', path: new RegExp(`^/api/queue/${ID}/hold$`), handle: async ({ params }) => json(await queue.hold(params[0]!)) },
    { method: 'POST', path: new RegExp(`^/api/queue/${ID}/release$`), handle: async ({ params }) => json(await queue.release(params[0]!)) },
  ];
}

export function findRoute(routes: Route[], method: string, path: string): { route: Route; params: string[] } | 'wrong-method' | undefined {
  let pathMatched = false;
  for (const route of routes) {
    const m = route.path.exec(path);
    if (!m) continue;
    if (route.method === method) return { route, params: m.slice(1).map(decodeURIComponent) };
    pathMatched = true;
  }
  return pathMatched ? 'wrong-method' : undefined;
}
