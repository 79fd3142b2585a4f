// The HTTP API and the web inbox on node:http. Off unless configured
// (`http.listen`, `--http HOST:PORT`); loopback unless told otherwise. With
// `http.token`, every /api/ request and /metrics need `Authorization: Bearer TOKEN`
// (or `?token=` for the browser's EventSource, which cannot send headers).

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { Logger } from '../log.js';
import { apiRoutes, findRoute, type ApiDeps, type RouteResult } from './api-routes.js';
import { HttpError, httpErrorOf } from './http-error.js';
import { staticFile } from './static-files.js';

export interface HttpApiOptions extends ApiDeps {
  host: string;
  port: number;
  token?: string;
  log: Logger;
}

/** A PUT of fault rules is small; this only stops a runaway client. */
const MAX_BODY_BYTES = 1024 * 1024;

export class HttpApi {
  private constructor(private readonly server: http.Server, readonly host: string, readonly port: number) {}

  static async start(options: HttpApiOptions): Promise<HttpApi> {
    const routes = apiRoutes(options);
    const server = http.createServer((request, response) => {
      handle(request, response, routes, options).catch((err: unknown) => {
        options.log('http', `${request.method} ${request.url}: ${(err as Error)?.message ?? String(err)}`);
        if (!response.headersSent) sendJson(response, 500, { error: 'internal error', code: 'EINTERNAL' });
        else response.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => { server.off('error', reject); resolve(); });
    });
    const { port } = server.address() as AddressInfo;
    options.log('http', `HTTP API and web inbox on http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}/`);
    return new HttpApi(server, options.host, port);
  }

  get url(): string {
    return `http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  /** Stops listening and ends every connection, open event streams and long-polls included. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

async function handle(request: IncomingMessage, response: ServerResponse, routes: ReturnType<typeof apiRoutes>, options: HttpApiOptions): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const method = request.method ?? 'GET';
  try {
    if (!url.pathname.startsWith('/api/') && url.pathname !== '/readyz' && url.pathname !== '/metrics') {
      const file = method === 'GET' ? await staticFile(url.pathname) : undefined;
      if (!file) throw new HttpError(404, 'ENOTFOUND', `no such page: ${url.pathname}`);
      response.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' });
      response.end(file.body);
      return;
    }
    checkOrigin(request);
    if (url.pathname.startsWith('/api/') || url.pathname === '/metrics') checkToken(request, url, options.token);
    const found = findRoute(routes, method, url.pathname);
    if (found === 'wrong-method') throw new HttpError(405, 'EMETHOD', `${method} is not allowed on ${url.pathname}`);
    if (!found) throw new HttpError(404, 'ENOTFOUND', `no such endpoint: ${method} ${url.pathname}`);
    const aborter = new AbortController();
    response.on('close', () => aborter.abort());
    const result = await found.route.handle({
      params: found.params,
      query: url.searchParams,
      request,
      response,
      body: () => readJsonBody(request),
      signal: aborter.signal,
    });
    send(response, result);
  } catch (err) {
    const error = httpErrorOf(err);
    if (error.status === 500) options.log('http', `${method} ${url.pathname}: ${error.message}`);
    if (!response.headersSent) sendJson(response, error.status, { error: error.message, code: error.code });
  }
}

function send(response: ServerResponse, result: RouteResult): void {
  if ('streamed' in result) return;
  if ('raw' in result) {
    response.writeHead(result.status ?? 200, { 'content-type': result.type, 'content-length': result.raw.length });
    response.end(result.raw);
    return;
  }
  sendJson(response, result.status ?? 200, result.json);
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length, 'cache-control': 'no-store' });
  response.end(body);
}

/**
 * A page on another site may make the browser send requests here (it is on
 * loopback, but the browser is too): a request whose Origin is not this
 * listener's own is refused, so no web page can read or delete the mail.
 */
function checkOrigin(request: IncomingMessage): void {
  const origin = request.headers.origin;
  if (origin === undefined) return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    host = '';
  }
  if (host !== request.headers.host) throw new HttpError(403, 'EORIGIN', `requests from ${origin} are not allowed`);
}

export function checkToken(request: IncomingMessage, url: URL, token: string | undefined): void {
  if (token === undefined) return;
  const header = request.headers.authorization;
  const given = header?.startsWith('Bearer ') ? header.slice(7) : url.searchParams.get('token') ?? '';
  // Compared as digests: equal length, constant time.
  const digest = (text: string) => createHash('sha256').update(text).digest();
  if (!timingSafeEqual(digest(given), digest(token))) throw new HttpError(401, 'EAUTH', 'a valid bearer token is required');
}

async function readJsonBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of request) {
    length += (chunk as Buffer).length;
    if (length > MAX_BODY_BYTES) throw new HttpError(413, 'ETOOLARGE', `the request body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new HttpError(400, 'EBADJSON', `the request body is not JSON: ${(err as Error).message}`);
  }
}
