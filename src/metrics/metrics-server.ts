// The dedicated metrics listener (`http.metrics`): GET /metrics and nothing
// else, for a Prometheus scraper when the HTTP API is not wanted. Loopback
// unless told otherwise; with `http.token`, a bearer token is required.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.js';
import { checkToken } from '../http/http-server.js';
import { HttpError, httpErrorOf } from '../http/http-error.js';
import { EXPOSITION_CONTENT_TYPE } from './registry.js';

export interface MetricsServerOptions {
  host: string;
  port: number;
  token?: string;
  render: () => Promise<string>;
  log: Logger;
}

export class MetricsServer {
  private constructor(private readonly server: http.Server, readonly host: string, readonly port: number) {}

  static async start(options: MetricsServerOptions): Promise<MetricsServer> {
    const server = http.createServer((request, response) => {
      scrape(request, options).then(
        (body) => {
          response.writeHead(200, { 'content-type': EXPOSITION_CONTENT_TYPE, 'content-length': body.length, 'cache-control': 'no-store' });
          response.end(body);
        },
        (err: unknown) => {
          const error = httpErrorOf(err);
          if (error.status === 500) options.log('http', `${request.method} ${request.url}: ${error.message}`);
          response.writeHead(error.status, { 'content-type': 'text/plain; charset=utf-8' });
          response.end(`${error.message}\n`);
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => { server.off('error', reject); resolve(); });
    });
    const { port } = server.address() as AddressInfo;
    const shown = options.host.includes(':') ? `[${options.host}]` : options.host;
    options.log('http', `metrics on http://${shown}:${port}/metrics`);
    return new MetricsServer(server, options.host, port);
  }

  get url(): string {
    return `http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}/metrics`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

async function scrape(request: http.IncomingMessage, options: MetricsServerOptions): Promise<Buffer> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (url.pathname !== '/metrics') throw new HttpError(404, 'ENOTFOUND', `only /metrics is served here, not ${url.pathname}`);
  if (request.method !== 'GET') throw new HttpError(405, 'EMETHOD', `${request.method} is not allowed on /metrics`);
  checkToken(request, url, options.token);
  return Buffer.from(await options.render());
}
