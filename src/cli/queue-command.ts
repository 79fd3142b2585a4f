// `minimta queue list [--json] | show ID | flush | retry ID | delete ID | hold ID | release ID`
// The spool comes from --config FILE or --spool DIR (default ./var/spool).
// Exit codes: 0 done; 1 no such message, an unreadable spool, or a relay
// that does not answer; 2 bad usage, a malformed id, a bad config.

import { readStoredTranscript } from '../trace/trace-store.js';
import { CliFailure, CliUsageError, parseCommandArgs, runCommand, type CommandIo } from './command-io.js';
import { becomeSpoolOwner, loadCliConfig } from './cli-config.js';
import { openQueue } from './queue-access.js';
import { formatChange, formatCorrupt, formatListing, formatMessage } from './queue-format.js';
import { QUEUE_ADMIN_CODES, QueueAdminError, type QueueOperations } from '../queue/spool/queue-admin.js';
import { isQueueId } from '../queue/spool/queue-id.js';

export const QUEUE_USAGE = `usage: minimta queue <subcommand> [--config FILE | --spool DIR]

subcommands:
  list [--json]    every queued message, oldest first (--json: the envelopes)
  show ID          one message: its envelope and header section
  show ID --transcript
                   the annotated SMTP transcripts of its arrival and delivery
                   (recorded when tracing was on: config "trace", --trace)
  flush            try every message now (not held ones, not captured ones)
  retry ID         try this message now
  delete ID        remove this message from the queue (safe during delivery)
  delete --all     remove every message (captured ones too)
  hold ID          keep this message from delivery until released
  release ID       let a held message go, and try it now
`;

const OPTIONS = {
  config: { type: 'string' },
  spool: { type: 'string' },
  json: { type: 'boolean' },
  all: { type: 'boolean' },
  transcript: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

interface Subcommand {
  takesId: boolean;
  /** With --all, the subcommand takes no id and acts on every message. */
  all?: (queue: QueueOperations, io: CommandIo) => Promise<void>;
  run(queue: QueueOperations, id: string, io: CommandIo, json: boolean): Promise<void>;
}

const SUBCOMMANDS: Record<string, Subcommand> = {
  list: {
    takesId: false,
    async run(queue, _id, io, json) {
      const listing = await queue.list();
      io.stderr.write(formatCorrupt(listing));
      io.stdout.write(json ? `${JSON.stringify(listing.envelopes, null, 2)}\n` : formatListing(listing));
    },
  },
  show: {
    takesId: true,
    async run(queue, id, io) {
      io.stdout.write(formatMessage(await queue.show(id)));
    },
  },
  flush: {
    takesId: false,
    async run(queue, _id, io) {
      const { ids } = await queue.flush();
      const count = `${ids.length} message${ids.length === 1 ? '' : 's'}`;
      io.stdout.write(`${count} ${queue.live ? 'will be tried now' : 'will be tried when the relay starts'}\n`);
    },
  },
  retry: {
    takesId: true,
    async run(queue, id, io) {
      io.stdout.write(formatChange('retry', await queue.retry(id), queue.live));
    },
  },
  delete: {
    takesId: true,
    async all(queue, io) {
      const { ids } = await queue.purge();
      io.stdout.write(`${ids.length} message${ids.length === 1 ? '' : 's'} deleted\n`);
    },
    async run(queue, id, io) {
      await queue.delete(id);
      io.stdout.write(`${id}: deleted\n`);
    },
  },
  hold: {
    takesId: true,
    async run(queue, id, io) {
      await queue.hold(id);
      io.stdout.write(`${id}: held\n`);
    },
  },
  release: {
    takesId: true,
    async run(queue, id, io) {
      io.stdout.write(formatChange('release', await queue.release(id), queue.live));
    },
  },
};

export function queueCommand(args: string[], io: CommandIo): Promise<number> {
  return runCommand('queue', QUEUE_USAGE, io, async () => {
    const { values, positionals } = parseCommandArgs(args, OPTIONS);
    if (values.help) {
      io.stdout.write(QUEUE_USAGE);
      return 0;
    }
    const [name, ...operands] = positionals;
    if (name === undefined) throw new CliUsageError('no subcommand given');
    const subcommand = Object.hasOwn(SUBCOMMANDS, name) ? SUBCOMMANDS[name] : undefined;
    if (!subcommand) throw new CliUsageError(`unknown subcommand "${name}"`);
    if (values.all) {
      if (!subcommand.all) throw new CliUsageError(`--all goes with delete only`);
      if (operands.length > 0) throw new CliUsageError(`${name} --all takes no id`);
      const queue = await openQueue(loadCliConfig(values).spool, io.controlTimeoutMs);
      await subcommand.all(queue, io);
      return 0;
    }
    const wanted = subcommand.takesId ? 1 : 0;
    if (operands.length !== wanted) {
      throw new CliUsageError(subcommand.takesId ? `${name} takes one queue id` : `${name} takes no arguments: ${operands.join(' ')}`);
    }
    if (values.json && name !== 'list') throw new CliUsageError('--json goes with list only');
    const id = operands[0] ?? '';
    // A malformed id is a usage error whatever the state of the spool.
    if (subcommand.takesId && !isQueueId(id)) throw new QueueAdminError(QUEUE_ADMIN_CODES.badId, `not a queue id: ${JSON.stringify(id)}`);
    const config = loadCliConfig(values);
    becomeSpoolOwner(config);
    if (values.transcript) {
      if (name !== 'show') throw new CliUsageError('--transcript goes with show only');
      // Stored beside the message by a relay with tracing on; kept after delivery (src/trace/).
      const text = await readStoredTranscript(config.spool, id);
      if (text === undefined) throw new CliFailure(`no transcript stored for ${id} (was tracing on, config "trace" or --trace, when it arrived?)`);
      io.stdout.write(text);
      return 0;
    }
    const queue = await openQueue(config.spool, io.controlTimeoutMs);
    await subcommand.run(queue, id, io, values.json ?? false);
    return 0;
  });
}
