// The control protocol between `minimta queue …` / `minimta sendmail` and
// the running relay (OpenSMTPD's control.c behind smtpctl): a Unix domain
// socket `control.sock` in the spool directory; one JSON request per line,
// one JSON response per line, in order.
//
//   → {"command":"hold","id":"0MX0OWGKC01M3M"}
//   ← {"ok":true,"result":{…the envelope…}}
//   ← {"ok":false,"error":"no message 0MX0OWGKC01M3M","code":"ENOMSG"}

import { join, resolve } from 'node:path';
import { CodedError } from '../coded-error.js';

export const CONTROL_SOCKET_NAME = 'control.sock';

/** Requests are a command and an id: a few hundred bytes is plenty. */
export const MAX_REQUEST_BYTES = 4096;
/** A `list` of a large queue is long; this only stops a runaway peer. */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** Each command, and whether it names a message. The table is the whole protocol. */
export const CONTROL_COMMANDS = {
  ping: { takesId: false },
  wake: { takesId: false },
  list: { takesId: false },
  flush: { takesId: false },
  show: { takesId: true },
  retry: { takesId: true },
  delete: { takesId: true },
  purge: { takesId: false },
  hold: { takesId: true },
  release: { takesId: true },
} as const satisfies Record<string, { takesId: boolean }>;

export type ControlCommand = keyof typeof CONTROL_COMMANDS;

export interface ControlRequest {
  command: ControlCommand;
  id?: string;
}

export type ControlResponse =
  | { ok: true; result: unknown }
  | { ok: false; error: string; code: string };

export const CONTROL_CODES = {
  /** Not JSON, not an object, or a field of the wrong type. */
  badRequest: 'EBADREQUEST',
  unknownCommand: 'EUNKNOWNCMD',
  /** A request line longer than MAX_REQUEST_BYTES; the server closes the connection. */
  tooLong: 'ETOOLONG',
  /** Something failed that the request could not have caused. */
  internal: 'EINTERNAL',
  /** Client side: no relay listens here (no socket file, or a stale one). */
  noServer: 'ENOSERVER',
  /** Client side: the socket is there but no answer came in time, or the connection broke. */
  unreachable: 'EUNREACHABLE',
} as const;

/** A failure of the control socket or of a request on it (CONTROL_CODES). */
export class ControlError extends CodedError {}

export function controlSocketPath(spoolDir: string): string {
  return join(resolve(spoolDir), CONTROL_SOCKET_NAME);
}

/**
 * sockaddr_un holds 108 bytes on Linux and 104 on the BSDs and macOS, NUL
 * included. Node does not refuse a longer path: it cuts it, and the socket
 * would appear somewhere else, outside the spool directory.
 */
export const MAX_SOCKET_PATH_BYTES = process.platform === 'linux' ? 107 : 103;

export function socketPathFits(path: string): boolean {
  return Buffer.byteLength(path) <= MAX_SOCKET_PATH_BYTES;
}

function isCommand(name: unknown): name is ControlCommand {
  return typeof name === 'string' && Object.hasOwn(CONTROL_COMMANDS, name);
}

/** Reads one request line; ControlError EBADREQUEST or EUNKNOWNCMD when it is not one. */
export function parseRequest(line: string): ControlRequest {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new ControlError(CONTROL_CODES.badRequest, 'the request is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ControlError(CONTROL_CODES.badRequest, 'the request is not a JSON object');
  }
  const { command, id } = value as Record<string, unknown>;
  if (typeof command !== 'string') throw new ControlError(CONTROL_CODES.badRequest, 'the request has no "command"');
  if (!isCommand(command)) throw new ControlError(CONTROL_CODES.unknownCommand, `unknown command ${JSON.stringify(command).slice(0, 64)}`);
  if (!CONTROL_COMMANDS[command].takesId) return { command };
  if (typeof id !== 'string') throw new ControlError(CONTROL_CODES.badRequest, `"${command}" needs an "id" string`);
  return { command, id };
}

/** Reads one response line; a line that is not a response is the server's fault: EUNREACHABLE. */
export function parseResponse(line: string): ControlResponse {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new ControlError(CONTROL_CODES.unreachable, 'the server sent something that is not JSON');
  }
  const response = value as Partial<Record<string, unknown>> | null;
  if (response?.ok === true && 'result' in response) return { ok: true, result: response.result };
  if (response?.ok === false && typeof response.error === 'string' && typeof response.code === 'string') {
    return { ok: false, error: response.error, code: response.code };
  }
  throw new ControlError(CONTROL_CODES.unreachable, 'the server sent a line that is not a response');
}

/** One line on the wire. */
export function encodeLine(value: ControlRequest | ControlResponse): string {
  return `${JSON.stringify(value)}\n`;
}
