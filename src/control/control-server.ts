// The running relay's end of the control socket: `<spool>/control.sock`,
// owner only. It carries out the queue commands on the relay's own Spool
// object, so they take their turn with the worker's envelope writes, and it
// wakes the worker when a message becomes due.
//
// Who may connect: the socket lives in the spool directory, which Spool.open
// keeps at mode 0700, so no other user can reach it even for the instant
// between bind and chmod; and the chmod to 0600 runs synchronously right after
// the bind, before the event loop can hand us a connection. (process.umask
// around listen() would change the mode of files other code creates at the
// same time in libuv's thread pool, so we do not touch it.)

import * as net from 'node:net';
import { once } from 'node:events';
import { chmodSync } from 'node:fs';
import { lstat, unlink } from 'node:fs/promises';
import {
  CONTROL_CODES, ControlError, MAX_REQUEST_BYTES, MAX_SOCKET_PATH_BYTES, controlSocketPath, encodeLine, parseRequest, socketPathFits,
  type ControlRequest, type ControlResponse,
} from './control-protocol.js';
import { ConfigError } from '../config.js';
import { LineSplitter, type LineEvent } from './json-lines.js';
import { QueueAdminError, type QueueOperations } from '../queue/spool/queue-admin.js';
import { SpoolError } from '../queue/spool/spool.js';
import type { Logger } from '../log.js';

const SOCKET_MODE = 0o600;
/** A connection that sends nothing for this long is closed. */
const IDLE_TIMEOUT_MS = 60_000;
/** Requests read ahead of the one being answered; with this many waiting, the socket is not read. */
const MAX_PENDING_REQUESTS = 64;
/** How long the start-up check waits for an old socket to answer. */
const PROBE_TIMEOUT_MS = 1000;

export interface ControlServerOptions {
  socketPath: string;
  /** The operations, on the relay's spool, waking the relay's worker. */
  queue: QueueOperations;
  log: Logger;
}

type Handler = (queue: QueueOperations, id: string) => Promise<unknown>;

/** What each command does: the command table of the protocol, on the server side. */
const HANDLERS: Record<ControlRequest['command'], Handler> = {
  ping: async () => 'pong',
  wake: async (queue) => { await queue.wake(); return null; },
  list: (queue) => queue.list(),
  flush: (queue) => queue.flush(),
  show: (queue, id) => queue.show(id),
  retry: (queue, id) => queue.retry(id),
  delete: (queue, id) => queue.delete(id),
  purge: (queue) => queue.purge(),
  hold: (queue, id) => queue.hold(id),
  release: (queue, id) => queue.release(id),
};

export class ControlServer {
  private readonly connections = new Set<net.Socket>();
  private closing?: Promise<void>;

  private constructor(private readonly server: net.Server, private readonly options: ControlServerOptions) {
    server.on('connection', (socket) => this.accept(socket));
  }

  get socketPath(): string {
    return this.options.socketPath;
  }

  /**
   * Listens on the socket path. A socket file left by a process that died
   * (nobody accepts on it: ECONNREFUSED) is replaced; a live one means
   * another relay runs on this spool, and that is an error, as is a path that
   * holds anything but a socket.
   */
  static async start(options: ControlServerOptions): Promise<ControlServer> {
    const path = options.socketPath;
    if (!socketPathFits(path)) {
      throw new ConfigError('spool', `the control socket path ${path} is longer than ${MAX_SOCKET_PATH_BYTES} bytes; choose a shorter spool directory`);
    }
    await removeStaleSocket(path, options.log);
    const server = net.createServer();
    // listen() binds a Unix socket synchronously: `listening` tells at once whether it worked.
    server.listen(path);
    if (!server.listening) {
      const [err] = (await once(server, 'error')) as [Error];
      throw new ControlError(CONTROL_CODES.internal, `cannot listen on ${path}: ${err.message}`, { cause: err });
    }
    try {
      chmodSync(path, SOCKET_MODE);
    } catch (err) {
      server.close();
      throw new ControlError(CONTROL_CODES.internal, `cannot make ${path} owner-only: ${(err as Error).message}`, { cause: err });
    }
    // Still in the same turn of the event loop: no connection has been handed to us yet.
    return new ControlServer(server, options);
  }

  /** Stops listening (which removes the socket file) and ends every connection. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const socket of this.connections) socket.destroy();
    });
    return this.closing;
  }

  private accept(socket: net.Socket): void {
    this.connections.add(socket);
    socket.on('close', () => this.connections.delete(socket));
    socket.on('error', () => socket.destroy()); // the client went away; its requests die with it
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
    const lines = new LineSplitter(MAX_REQUEST_BYTES);
    const pending: LineEvent[] = [];
    let answering: Promise<void> | undefined;
    socket.on('data', (chunk: Buffer) => {
      pending.push(...lines.push(chunk));
      if (pending.length >= MAX_PENDING_REQUESTS) socket.pause();
      answering ??= this.answerPending(socket, pending).finally(() => { answering = undefined; });
    });
  }

  /**
   * Answers the requests read so far, one at a time, so responses keep the
   * order of the requests. While a response waits for the client to read it,
   * the next request waits too, and once MAX_PENDING_REQUESTS wait the socket
   * is not read: a client that does not read cannot make the relay hold more
   * than one response for it. (The idle timeout ends a client that never does.)
   */
  private async answerPending(socket: net.Socket, pending: LineEvent[]): Promise<void> {
    for (let event = pending.shift(); event && !socket.destroyed; event = pending.shift()) {
      if (event.kind === 'too-long') {
        this.respondAndClose(socket);
        return;
      }
      await this.answer(socket, event.text);
      if (socket.writableNeedDrain) await drainedOrClosed(socket);
    }
    if (!socket.destroyed) socket.resume();
  }

  private async answer(socket: net.Socket, line: string): Promise<void> {
    if (line.trim() === '') return;
    const response = await this.respond(line);
    if (!socket.destroyed) socket.write(encodeLine(response));
  }

  private respondAndClose(socket: net.Socket): void {
    const response: ControlResponse = { ok: false, code: CONTROL_CODES.tooLong, error: `request longer than ${MAX_REQUEST_BYTES} bytes` };
    socket.end(encodeLine(response));
  }

  private async respond(line: string): Promise<ControlResponse> {
    let request: ControlRequest;
    try {
      request = parseRequest(line);
    } catch (err) {
      const error = err as ControlError;
      return { ok: false, error: error.message, code: error.code };
    }
    try {
      const result = await HANDLERS[request.command](this.options.queue, request.id ?? '');
      return { ok: true, result };
    } catch (err) {
      return this.failure(request, err);
    }
  }

  /** The operator's mistakes go back as they are; anything else is logged here too. */
  private failure(request: ControlRequest, err: unknown): ControlResponse {
    if (err instanceof QueueAdminError || err instanceof SpoolError) {
      return { ok: false, error: err.message, code: err.code };
    }
    const error = err instanceof Error ? err : new Error(String(err));
    this.options.log('control', `${request.command} failed: ${error.stack ?? error.message}`, request.id);
    return { ok: false, error: error.message, code: CONTROL_CODES.internal };
  }
}

/** Resolves when the socket has written what it holds, or has closed. */
function drainedOrClosed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

async function removeStaleSocket(path: string, log: Logger): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new ControlError(CONTROL_CODES.internal, `cannot look at ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (!isSocket) throw new ControlError(CONTROL_CODES.internal, `${path} exists and is not a socket; remove it`);
  if (await answers(path)) {
    throw new ControlError(CONTROL_CODES.internal, `another minimta is running on this spool (${path} answers)`);
  }
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw new ControlError(CONTROL_CODES.internal, `cannot remove the stale ${path}: ${err.message}`, { cause: err });
  });
  log('control', `replaced the stale control socket ${path}`);
}

/**
 * Refuses to go on when another relay serves the spool at `spoolDir`: called
 * before the spool is opened, since opening it clears tmp/, where the other
 * relay's receipts in progress live.
 */
export async function assertSpoolFree(spoolDir: string): Promise<void> {
  const path = controlSocketPath(spoolDir);
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch {
    return; // no socket there (or no spool yet): nobody serves it
  }
  if (isSocket && await answers(path)) {
    throw new ControlError(CONTROL_CODES.internal, `another minimta is running on this spool (${path} answers)`);
  }
}

/** Whether something accepts connections on the socket: ECONNREFUSED means nobody does. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(path);
    const timer = setTimeout(() => { socket.destroy(); resolve(true); }, PROBE_TIMEOUT_MS);
    socket.once('connect', () => { clearTimeout(timer); socket.destroy(); resolve(true); });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') resolve(false);
      else reject(new ControlError(CONTROL_CODES.internal, `cannot check ${path}: ${err.message}`, { cause: err }));
    });
  });
}
