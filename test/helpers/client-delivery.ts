// Shared by the delivery-client TLS and AUTH tests: a request aimed at a sink
// with every wait bounded, the test certificate, and readers for the result.

import fs from 'node:fs';
import { Readable } from 'node:stream';
import { deliverToHost, type ClientTimeouts, type DeliveryRequest, type DeliveryResult, type HostFailure, type SessionOutcome } from '../../src/protocol/client/smtp-client.js';
import { replyToString, type Reply } from '../../src/reply-codes/index.js';
import type { SmtpSink } from './smtp-sink.js';
import { TEST_TLS } from './tls-fixtures.js';

/** Every wait bounded well inside mocha's timeout, so a broken client fails instead of hanging. */
export const FAST: ClientTimeouts = {
  connectMs: 2000, greetingMs: 2000, ehloMs: 2000, mailMs: 2000, rcptMs: 2000,
  dataInitMs: 2000, dataBlockMs: 2000, dataEndMs: 2000, quitMs: 500, tlsMs: 2000, authMs: 2000,
};

/** The localhost test certificate (SAN: localhost, mx.minimta.test, 127.0.0.1), for a sink. */
export const SINK_TLS = { cert: fs.readFileSync(TEST_TLS.cert), key: fs.readFileSync(TEST_TLS.key) };

export const MESSAGE = 'From: a@src.test\r\nTo: u@normal.test\r\nSubject: hello\r\n\r\nHello, world.\r\n';

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms} ms`)), ms); });
  return Promise.race([promise, expiry]).finally(() => clearTimeout(timer));
}

/** Delivers MESSAGE to the sink (host name mx.minimta.test unless overridden), bounded. */
export function deliverTo(sink: { host: string; port: number }, overrides: Partial<DeliveryRequest> = {}): Promise<DeliveryResult> {
  const bytes = Buffer.from(MESSAGE);
  return withTimeout(deliverToHost({
    host: 'mx.minimta.test',
    address: sink.host,
    port: sink.port,
    heloName: 'relay.minimta.test',
    sender: 'a@src.test',
    recipients: ['u@normal.test'],
    message: () => Readable.from([bytes]),
    size: bytes.length,
    body: '7BIT',
    smtputf8: false,
    timeouts: FAST,
    ...overrides,
  }), 8000, 'deliverToHost');
}

export function session(result: DeliveryResult): SessionOutcome {
  if (result.kind !== 'session') throw new Error(`expected a session, got ${result.stage}: ${replyToString(result.reply)}`);
  return result;
}

export function hostFailure(result: DeliveryResult): HostFailure {
  if (result.kind !== 'host-failed') throw new Error(`expected host-failed, got ${JSON.stringify(result.recipients)}`);
  return result;
}

/** "code enhanced", e.g. '451 4.7.5'. */
export function codeOf(r: Reply): string {
  return [r.code, r.enhanced].filter(Boolean).join(' ');
}

/** "code enhanced" per recipient. */
export function codes(result: DeliveryResult): string[] {
  return session(result).recipients.map((r) => codeOf(r.reply));
}

/** The first word of every line the sink received, upper-cased: the dialog at a glance. */
export function verbs(sink: SmtpSink): string[] {
  return sink.transcript.map((line) => line.split(' ')[0]?.toUpperCase() ?? '');
}

/** The verbs up to the data: commands only. */
export function commandVerbs(sink: SmtpSink): string[] {
  const all = verbs(sink);
  const data = all.indexOf('DATA');
  return data === -1 ? all : all.slice(0, data + 1);
}
