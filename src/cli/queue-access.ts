// Where the queue commands are carried out: by the relay running on the
// spool, over its control socket, so its worker acts at once and its writes
// and ours take turns; or, when no relay runs there, on the spool directly.
// A relay that is there but does not answer is an error, never a reason to
// go around it. The spool is checked first either way: the control socket
// in a spool that is not ours alone may be anyone's.

import { relayAnswers } from '../control/control-client.js';
import { controlSocketPath } from '../control/control-protocol.js';
import { RemoteQueue } from '../control/remote-queue.js';
import { QueueAdmin, attachSpool, type QueueOperations } from '../queue/spool/queue-admin.js';

export async function openQueue(spoolDir: string, timeoutMs?: number): Promise<QueueOperations> {
  const spool = await attachSpool(spoolDir);
  const socketPath = controlSocketPath(spoolDir);
  if (await relayAnswers(socketPath, timeoutMs)) return new RemoteQueue(socketPath, timeoutMs);
  return new QueueAdmin(spool);
}
