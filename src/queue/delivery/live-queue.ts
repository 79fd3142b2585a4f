// The queue commands while the relay runs (served on the control socket):
// carried out on the worker's schedule in memory and written through to the
// spool. `queue list` reads each envelope the worker does not hold from the
// spool (one read each, no look for files); `flush` makes every message due
// without rewriting a file. (flush is a nudge, not a state: after a restart
// each message is due when its envelope says.)

import { QUEUE_ADMIN_CODES, QueueAdminError, type MessageView, type QueueListing, type QueueOperations } from '../spool/queue-admin.js';
import { isQueueId } from '../spool/queue-id.js';
import type { Envelope } from '../spool/envelope.js';
import type { Spool } from '../spool/spool.js';
import type { QueueWorker } from './worker.js';

export class LiveQueue implements QueueOperations {
  readonly live = true;

  constructor(
    private readonly spool: Spool,
    private readonly worker: QueueWorker,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async list(): Promise<QueueListing> {
    await this.worker.loaded();
    const envelopes = await this.worker.envelopes();
    envelopes.sort((a, b) => a.arrivedAt.localeCompare(b.arrivedAt) || a.id.localeCompare(b.id));
    return { envelopes, corrupt: this.worker.unreadableEntries() };
  }

  async show(id: string): Promise<MessageView> {
    await this.worker.loaded();
    const envelope = this.known(id);
    const head = await this.spool.readMessageHead(id, undefined, envelope.size);
    return { envelope, head: head.toString('utf8') };
  }

  async flush(): Promise<{ ids: string[] }> {
    await this.worker.loaded();
    return { ids: this.worker.makeAllDue() };
  }

  async retry(id: string): Promise<Envelope> {
    return this.change(id, (env) => { env.nextAttemptAt = this.now().toISOString(); });
  }

  async delete(id: string): Promise<{ id: string }> {
    await this.worker.loaded();
    this.known(id);
    if (!(await this.worker.remove(id))) throw noMessage(id);
    return { id };
  }

  /** Each message leaves as in delete(); one that is already gone is not counted. */
  async purge(): Promise<{ ids: string[] }> {
    await this.worker.loaded();
    const ids: string[] = [];
    for (const id of this.worker.ids()) {
      if (await this.worker.remove(id)) ids.push(id);
    }
    return { ids };
  }

  hold(id: string): Promise<Envelope> {
    return this.change(id, (env) => { env.held = true; });
  }

  release(id: string): Promise<Envelope> {
    return this.change(id, (env) => {
      env.held = false;
      env.nextAttemptAt = this.now().toISOString();
    });
  }

  /** Something was put into the spool by another process: look for it. */
  async wake(): Promise<void> {
    await this.worker.rescan();
  }

  private async change(id: string, edit: (env: Envelope) => void): Promise<Envelope> {
    await this.worker.loaded();
    this.known(id);
    const envelope = await this.worker.change(id, edit);
    if (!envelope) throw noMessage(id);
    return envelope;
  }

  private known(id: string): Envelope {
    if (!isQueueId(id)) throw new QueueAdminError(QUEUE_ADMIN_CODES.badId, `not a queue id: ${JSON.stringify(id)}`);
    const envelope = this.worker.envelope(id);
    if (!envelope) throw noMessage(id);
    return envelope;
  }
}

function noMessage(id: string): QueueAdminError {
  return new QueueAdminError(QUEUE_ADMIN_CODES.noMessage, `no message ${id}`);
}
