// Errors of the HTTP API, each with its status; sent as JSON
// `{"error": "...", "code": "..."}` like every other answer.

import { QUEUE_ADMIN_CODES, QueueAdminError } from '../queue/spool/queue-admin.js';
import { WaitTimeoutError } from '../inbox/mailbox.js';
import { FaultRuleError } from '../faults/fault-rule-error.js';

export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'HttpError';
  }
}

/** What an error thrown by a handler becomes; anything unexpected is a 500 with its message. */
export function httpErrorOf(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof FaultRuleError) return new HttpError(400, 'EBADRULE', err.message);
  if (err instanceof WaitTimeoutError) return new HttpError(408, 'ETIMEOUT', err.message);
  if (err instanceof QueueAdminError) {
    if (err.code === QUEUE_ADMIN_CODES.noMessage) return new HttpError(404, err.code, err.message);
    if (err.code === QUEUE_ADMIN_CODES.badId) return new HttpError(404, err.code, err.message);
  }
  if (err instanceof RangeError) return new HttpError(400, 'EBADREQUEST', err.message);
  const code = (err as { code?: unknown }).code;
  return new HttpError(500, typeof code === 'string' ? code : 'EINTERNAL', (err as Error)?.message ?? String(err));
}
