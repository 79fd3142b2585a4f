// The queue operations of a running relay, asked over its control socket.
// The results are what the relay's QueueAdmin returned, sent as JSON.

import type { Envelope } from '../queue/spool/envelope.js';
import type { MessageView, QueueListing, QueueOperations } from '../queue/spool/queue-admin.js';
import { sendControlRequest } from './control-client.js';
import type { ControlRequest } from './control-protocol.js';

export class RemoteQueue implements QueueOperations {
  readonly live = true;

  constructor(private readonly socketPath: string, private readonly timeoutMs?: number) {}

  list(): Promise<QueueListing> {
    return this.ask({ command: 'list' }) as Promise<QueueListing>;
  }

  show(id: string): Promise<MessageView> {
    return this.ask({ command: 'show', id }) as Promise<MessageView>;
  }

  flush(): Promise<{ ids: string[] }> {
    return this.ask({ command: 'flush' }) as Promise<{ ids: string[] }>;
  }

  retry(id: string): Promise<Envelope> {
    return this.ask({ command: 'retry', id }) as Promise<Envelope>;
  }

  delete(id: string): Promise<{ id: string }> {
    return this.ask({ command: 'delete', id }) as Promise<{ id: string }>;
  }

  purge(): Promise<{ ids: string[] }> {
    return this.ask({ command: 'purge' }) as Promise<{ ids: string[] }>;
  }

  hold(id: string): Promise<Envelope> {
    return this.ask({ command: 'hold', id }) as Promise<Envelope>;
  }

  release(id: string): Promise<Envelope> {
    return this.ask({ command: 'release', id }) as Promise<Envelope>;
  }

  async wake(): Promise<void> {
    await this.ask({ command: 'wake' });
  }

  private ask(request: ControlRequest): Promise<unknown> {
    return sendControlRequest(this.socketPath, request, this.timeoutMs);
  }
}
