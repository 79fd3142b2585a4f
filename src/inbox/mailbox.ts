// The spool as a test author sees it: messages listed and searched, one
// message parsed (envelope, headers, text, HTML, attachments), its raw
// source, deletion, and waiting for a message to arrive. The JS API and the
// HTTP API are both thin layers over this.

import { readFile } from 'node:fs/promises';
import type { Spool } from '../queue/spool/spool.js';
import type { Envelope, RecipientRecord } from '../queue/spool/envelope.js';
import { QUEUE_ADMIN_CODES, QueueAdminError, type QueueOperations } from '../queue/spool/queue-admin.js';
import { parseMail, type Attachment } from '../mime/message-parse.js';
import { headerValue, parseHeaderFields, type HeaderField } from '../mime/header-fields.js';
import { matchesFilter, type MessageFilter } from './message-filter.js';
import type { MtaEvent, MtaEvents } from './mta-events.js';

export type MessageState = 'captured' | 'queued' | 'held';

export interface MessageSummary {
  id: string;
  /** The envelope sender ('' for <>). */
  from: string;
  /** The envelope recipients. */
  to: string[];
  subject?: string;
  /** Bytes of the stored message, our Received: line included (the same figure as the log's size=). */
  size: number;
  arrivedAt: string;
  state: MessageState;
  recipients: RecipientRecord[];
}

export interface MessageDetail extends MessageSummary {
  envelope: Envelope;
  headers: HeaderField[];
  text?: string;
  html?: string;
  attachments: Attachment[];
}

export class WaitTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no matching message arrived within ${timeoutMs} ms`);
    this.name = 'WaitTimeoutError';
  }
}

export function stateOf(envelope: Envelope): MessageState {
  if (envelope.capture) return 'captured';
  return envelope.held ? 'held' : 'queued';
}

export class Mailbox {
  constructor(
    private readonly spool: Spool,
    private readonly queue: QueueOperations,
    private readonly events: MtaEvents,
  ) {}

  /** Messages matching the filter, newest first. */
  async list(filter: MessageFilter = {}): Promise<MessageSummary[]> {
    const { envelopes } = await this.spool.listAll();
    const summaries: MessageSummary[] = [];
    for (const envelope of envelopes) {
      const summary = await this.summaryOf(envelope).catch(gone);
      if (summary && matchesFilter(summary, filter)) summaries.push(summary);
    }
    return summaries.sort((a, b) => b.arrivedAt.localeCompare(a.arrivedAt) || b.id.localeCompare(a.id));
  }

  async get(id: string): Promise<MessageDetail> {
    const envelope = (await this.queue.show(id)).envelope;
    const mail = parseMail(await this.raw(id));
    return {
      ...summaryFrom(envelope, mail.subject),
      envelope,
      headers: mail.headers,
      ...(mail.text !== undefined ? { text: mail.text } : {}),
      ...(mail.html !== undefined ? { html: mail.html } : {}),
      attachments: mail.attachments,
    };
  }

  /** The message exactly as stored: our Received: line, then what the client sent. */
  async raw(id: string): Promise<Buffer> {
    await this.queue.show(id);
    return this.spool.readMessage(id).catch((err: unknown) => {
      throw new QueueAdminError(QUEUE_ADMIN_CODES.noMessage, `no message ${id}`, { cause: err });
    });
  }

  async delete(id: string): Promise<void> {
    await this.queue.delete(id);
    this.events.publish({ type: 'deleted', id });
  }

  /** Removes every message; returns how many. */
  async deleteAll(): Promise<number> {
    const { ids } = await this.queue.purge();
    for (const id of ids) this.events.publish({ type: 'deleted', id });
    return ids.length;
  }

  /**
   * The newest message already there that matches, or else the first one to
   * arrive that matches; WaitTimeoutError after timeoutMs. Pass `since` to
   * ignore what came before.
   */
  waitFor(filter: MessageFilter, timeoutMs: number, signal?: AbortSignal): Promise<MessageDetail> {
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (error: Error | undefined, message?: MessageDetail) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.events.off('received', onReceived);
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve(message!);
      };
      const consider = async (id: string): Promise<void> => {
        const detail = await this.get(id).catch(gone);
        if (detail && matchesFilter(detail, filter)) finish(undefined, detail);
      };
      const onReceived = (event: MtaEvent) => { consider(event.id!).catch((err: Error) => finish(err)); };
      const onAbort = () => finish(new Error('wait aborted'));
      const timer = setTimeout(() => finish(new WaitTimeoutError(timeoutMs)), timeoutMs);
      // Listening before looking, so a message that lands in between is not missed.
      this.events.on('received', onReceived);
      signal?.addEventListener('abort', onAbort);
      this.list(filter).then(
        (existing) => existing[0] ? consider(existing[0].id) : undefined,
      ).catch((err: Error) => finish(err));
    });
  }

  private async summaryOf(envelope: Envelope): Promise<MessageSummary> {
    const head = await this.spool.readMessageHead(envelope.id, undefined, envelope.size);
    return summaryFrom(envelope, headerValue(parseHeaderFields(head.toString('utf8')), 'subject'));
  }
}

function summaryFrom(envelope: Envelope, subject: string | undefined): MessageSummary {
  return {
    id: envelope.id,
    from: envelope.sender,
    to: envelope.recipients.map((r) => r.address),
    ...(subject !== undefined ? { subject } : {}),
    size: envelope.size,
    arrivedAt: envelope.arrivedAt,
    state: stateOf(envelope),
    recipients: envelope.recipients,
  };
}

/** A message that left the spool while we read it is simply not there. */
function gone(err: unknown): undefined {
  const code = (err as { code?: string }).code;
  if (code === 'ENOENT' || code === QUEUE_ADMIN_CODES.noMessage) return undefined;
  throw err;
}
