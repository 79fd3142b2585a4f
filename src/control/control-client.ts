// The command line's end of the control socket: one connection per request,
// every wait bounded. "No relay here" (no socket file, or a stale one nobody
// accepts on) is told apart from "a relay is here but does not answer", so
// the caller can fall back to the spool only in the first case.

import * as net from 'node:net';
import {
  CONTROL_CODES, ControlError, MAX_RESPONSE_BYTES, encodeLine, parseResponse, socketPathFits,
  type ControlRequest,
} from './control-protocol.js';
import { LineSplitter } from './json-lines.js';
import { QUEUE_ADMIN_CODES, QueueAdminError } from '../queue/spool/queue-admin.js';

/** How long a request may take, connecting included, unless told otherwise. */
export const DEFAULT_CONTROL_TIMEOUT_MS = 10_000;

/** Connection errors that mean nobody listens: the caller may use the spool itself. */
const NO_SERVER_ERRORS: ReadonlySet<string> = new Set(['ENOENT', 'ECONNREFUSED']);
const QUEUE_CODES: ReadonlySet<string> = new Set(Object.values(QUEUE_ADMIN_CODES));

/**
 * Sends one request and resolves with the result. Rejects with ControlError
 * ENOSERVER when no relay listens, EUNREACHABLE when one should but does not
 * answer in time; with QueueAdminError when the relay refused the request for
 * a reason of the queue (no such message, bad id), else ControlError with the
 * server's code.
 */
export function sendControlRequest(socketPath: string, request: ControlRequest, timeoutMs = DEFAULT_CONTROL_TIMEOUT_MS): Promise<unknown> {
  if (!socketPathFits(socketPath)) {
    // Node would cut the path and connect elsewhere; the relay refuses such a path too.
    return Promise.reject(new ControlError(CONTROL_CODES.noServer, `${socketPath} is too long to be a control socket`));
  }
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    const lines = new LineSplitter(MAX_RESPONSE_BYTES);
    let settled = false;
    const finish = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      outcome();
    };
    const unreachable = (why: string, cause?: unknown): void =>
      finish(() => reject(new ControlError(CONTROL_CODES.unreachable, `server not reachable at ${socketPath}: ${why}`, { cause })));
    const timer = setTimeout(() => unreachable(`no answer within ${timeoutMs} ms`), timeoutMs);
    socket.on('connect', () => socket.write(encodeLine(request)));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (NO_SERVER_ERRORS.has(err.code ?? '')) {
        finish(() => reject(new ControlError(CONTROL_CODES.noServer, `no relay is running on ${socketPath}`, { cause: err })));
      } else {
        unreachable(err.message, err);
      }
    });
    socket.on('close', () => unreachable('the connection closed before the answer'));
    socket.on('data', (chunk: Buffer) => {
      const [first] = lines.push(chunk);
      if (first === undefined) return;
      if (first.kind === 'too-long') return unreachable(`the answer is longer than ${MAX_RESPONSE_BYTES} bytes`);
      finish(() => {
        try {
          const response = parseResponse(first.text);
          if (response.ok) resolve(response.result);
          else reject(QUEUE_CODES.has(response.code) ? new QueueAdminError(response.code, response.error) : new ControlError(response.code, response.error));
        } catch (err) {
          reject(err);
        }
      });
    });
  });
}

/** Whether a relay answers on the socket: false when none listens; throws when one is there but mute. */
export async function relayAnswers(socketPath: string, timeoutMs = DEFAULT_CONTROL_TIMEOUT_MS): Promise<boolean> {
  try {
    await sendControlRequest(socketPath, { command: 'ping' }, timeoutMs);
    return true;
  } catch (err) {
    if (err instanceof ControlError && err.code === CONTROL_CODES.noServer) return false;
    throw err;
  }
}
