// An HTTPS server on loopback that serves MTA-STS policy files
// (RFC 8461 §3.3) by Host: name, for the MTA-STS tests. Each host answers
// what the test set: a policy text, or an HTTP status (a redirect, a 404).

import { once } from 'node:events';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';

export type PolicyAnswer = { policy: string } | { status: number; location?: string };

export class PolicyServer {
  /** Host names asked for, in order. */
  readonly requests: string[] = [];
  private readonly answers = new Map<string, PolicyAnswer>();

  private constructor(private readonly server: https.Server, readonly port: number) {
    server.on('request', (request, response) => {
      const host = (request.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
      this.requests.push(host);
      const answer = this.answers.get(host);
      if (request.url !== '/.well-known/mta-sts.txt' || !answer) {
        response.writeHead(404).end();
      } else if ('policy' in answer) {
        response.writeHead(200, { 'Content-Type': 'text/plain' }).end(answer.policy);
      } else {
        response.writeHead(answer.status, answer.location ? { Location: answer.location } : {}).end();
      }
    });
  }

  static async start(tls: { cert: string; key: string }, host = '127.0.0.1'): Promise<PolicyServer> {
    const server = https.createServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) });
    server.listen(0, host);
    await once(server, 'listening');
    return new PolicyServer(server, (server.address() as AddressInfo).port);
  }

  /** What https://HOST/.well-known/mta-sts.txt answers; undefined: 404. */
  set(host: string, answer: PolicyAnswer | undefined): void {
    if (answer === undefined) this.answers.delete(host);
    else this.answers.set(host, answer);
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}

export function policyText(mode: 'enforce' | 'testing' | 'none', mx: string[], maxAge = 86400): string {
  return ['version: STSv1', `mode: ${mode}`, ...mx.map((m) => `mx: ${m}`), `max_age: ${maxAge}`, ''].join('\r\n');
}
