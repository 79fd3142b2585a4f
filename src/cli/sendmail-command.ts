// `minimta sendmail [-f FROM] [-t] [RCPT…]`: queues a message read on stdin,
// as Postfix's sendmail does for cron jobs and scripts. The message goes
// straight into the spool (committed like any other, so it is durable when
// we exit 0), then the running relay, if any, is asked to look at the queue;
// without one, it waits for the next start.
//
// -t takes recipients from To:, Cc: and Bcc: and removes Bcc:. Recipients on
// the command line are added to those (Postfix's rule; classic Sendmail
// would instead leave them out).

import { DkimSigner } from '../dkim/signer.js';
import { loadDkimKeys } from '../dkim/dkim-config.js';
import os from 'node:os';
import { CliFailure, CliUsageError, parseCommandArgs, runCommand, type CommandIo } from './command-io.js';
import { becomeSpoolOwner, loadCliConfig } from './cli-config.js';
import {
  assembleMessage, firstLongLine, fromValue, localReceivedField, missingFields, normalizeLineEnds,
  recipientsFromFields, splitMessage, withoutBcc, MAX_LINE_OCTETS,
} from './local-submission.js';
import { postmasterAddress, type Config } from '../config.js';
import { parsePath, type PathRole } from '../protocol/shared/address.js';
import { ReplyError } from '../reply-codes/index.js';
import { attachOrCreateSpool } from '../queue/spool/queue-admin.js';
import type { Spool } from '../queue/spool/spool.js';
import { sendControlRequest } from '../control/control-client.js';
import { CONTROL_CODES, ControlError, controlSocketPath } from '../control/control-protocol.js';

export const SENDMAIL_USAGE = `usage: minimta sendmail [-f FROM] [-F NAME] [-t] [-v] [--config FILE | --spool DIR] [RCPT...]

Reads a message on stdin, to the end (a line with a single "." does not end
it), and queues it for delivery.
  -f FROM   the envelope sender (default USER@HOSTNAME; "" or "<>" for none)
  -F NAME   the full name in an added From: field
  -t        take recipients from To:, Cc: and Bcc: too; Bcc: is removed
  -v        print the queue id
  -i, -o X  accepted for compatibility, and ignored
`;

const OPTIONS = {
  from: { type: 'string', short: 'f' },
  'full-name': { type: 'string', short: 'F' },
  'read-recipients': { type: 'boolean', short: 't' },
  verbose: { type: 'boolean', short: 'v' },
  // Sendmail's -i (a "." line does not end the input): always true here.
  'ignore-dots': { type: 'boolean', short: 'i' },
  // Sendmail's -oX options (-oi, -oem …) mean nothing to us.
  option: { type: 'string', short: 'o', multiple: true },
  config: { type: 'string' },
  spool: { type: 'string' },
  hostname: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const EIGHT_BIT = /[\x80-\xff]/;
const NON_ASCII = /[^\x00-\x7f]/;

export function sendmailCommand(args: string[], io: CommandIo): Promise<number> {
  return runCommand('sendmail', SENDMAIL_USAGE, io, async () => {
    const { values, positionals } = parseCommandArgs(args, OPTIONS);
    if (values.help) {
      io.stdout.write(SENDMAIL_USAGE);
      return 0;
    }
    const config = loadCliConfig(values);
    const sender = values.from === undefined ? defaultSender(config) : senderAddress(values.from);
    const explicit = positionals.map((text) => recipientAddress(text, config, 'on the command line'));
    const text = normalizeLineEnds(await readInput(io.stdin, config.limits.maxMessageSize));
    const longLine = firstLongLine(text);
    if (longLine > 0) throw new CliFailure(`line ${longLine} is longer than ${MAX_LINE_OCTETS} octets (RFC 5322 §2.1.1); nothing was queued`);
    const message = splitMessage(text);
    const fromHeaders = values['read-recipients']
      ? recipientsFromFields(message.fields).map((r) => recipientAddress(r, config, 'in the header'))
      : [];
    const recipients = unique([...fromHeaders, ...explicit]);
    if (recipients.length === 0) throw new CliUsageError('no recipients: name them, or use -t');
    // Who ran sendmail, for the Received: line, before becoming the spool's owner.
    const uid = process.getuid?.();
    becomeSpoolOwner(config);
    const spool = await attachOrCreateSpool(config.spool);
    const id = await queueMessage(spool, config, {
      uid,
      sender,
      recipients,
      fields: withoutBcc(message.fields),
      body: message.body,
      from: fromValue(sender || defaultSender(config), values['full-name']),
      date: io.now?.() ?? new Date(),
    });
    await wakeRelay(config.spool, id, io);
    if (values.verbose) io.stdout.write(`${id}\n`);
    return 0;
  });
}

interface Submission {
  uid: number | undefined;
  sender: string;
  recipients: string[];
  fields: ReturnType<typeof withoutBcc>;
  body: string;
  from: string;
  date: Date;
}

/** Writes and commits the message: on success it is queued durably, as after a 250 to DATA. */
async function queueMessage(spool: Spool, config: Config, submission: Submission): Promise<string> {
  const { sender, recipients, date } = submission;
  const receipt = await spool.beginReceipt();
  try {
    const facts = { hostname: config.hostname, queueId: receipt.id, date };
    const received = localReceivedField({ ...facts, uid: submission.uid, recipients });
    const added = missingFields(submission.fields, { ...facts, from: submission.from });
    const bytes = assembleMessage(received, submission.fields, added, submission.body);
    if (bytes.length > config.limits.maxMessageSize) throw tooBig(config);
    if (!receipt.write(bytes)) await receipt.waitForDrain();
    // Local submission is our own users' mail: signed as mail from relay.networks is (src/dkim/).
    const signature = new DkimSigner(loadDkimKeys(config.dkim)).signMessage(bytes)?.prefix;
    await receipt.commit({
      version: 1,
      id: receipt.id,
      arrivedAt: date.toISOString(),
      client: { ip: '127.0.0.1', ehlo: 'localhost', protocol: 'local' },
      sender,
      recipients: recipients.map((address) => ({ address, state: 'pending', attempts: 0 })),
      body: EIGHT_BIT.test(bytes.toString('latin1')) ? '8BITMIME' : '7BIT',
      // RFC 6531: a non-ASCII envelope address needs SMTPUTF8 on the way out.
      smtputf8: [sender, ...recipients].some((a) => NON_ASCII.test(a)),
      capture: false,
      held: false,
      attempts: 0,
      nextAttemptAt: date.toISOString(),
    }, signature);
    return receipt.id;
  } catch (err) {
    await receipt.abort();
    throw err;
  }
}

/** Asks the running relay to look at the queue; no relay is fine, a mute one is worth a warning. */
async function wakeRelay(spoolDir: string, id: string, io: CommandIo): Promise<void> {
  try {
    await sendControlRequest(controlSocketPath(spoolDir), { command: 'wake' }, io.controlTimeoutMs);
  } catch (err) {
    if (err instanceof ControlError && err.code === CONTROL_CODES.noServer) return;
    // The message is queued either way; the relay also looks at the spool on its own.
    io.stderr.write(`minimta: sendmail: ${id} is queued, but the relay was not told: ${(err as Error).message}\n`);
  }
}

async function readInput(stdin: AsyncIterable<Buffer | string>, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stdin) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    length += bytes.length;
    if (length > maxBytes) throw new CliFailure(`the message is larger than limits.maxMessageSize (${maxBytes} bytes); nothing was queued`);
    chunks.push(bytes);
  }
  return Buffer.concat(chunks);
}

function tooBig(config: Config): CliFailure {
  return new CliFailure(`the message is larger than limits.maxMessageSize (${config.limits.maxMessageSize} bytes); nothing was queued`);
}

/** "a@b", "<a@b>" → "<a@b>", checked as MAIL FROM / RCPT TO would check it (UTF-8 allowed, as SMTPUTF8). */
function checkedPath(text: string, role: PathRole, where: string) {
  const trimmed = text.trim();
  const path = trimmed.startsWith('<') && trimmed.endsWith('>') ? trimmed : `<${trimmed}>`;
  try {
    return parsePath(path, role, { utf8: true, strict: true });
  } catch (err) {
    if (!(err instanceof ReplyError)) throw err;
    throw new CliFailure(`bad ${role} address ${JSON.stringify(text)} ${where}: ${err.message}`, 2);
  }
}

function recipientAddress(text: string, config: Config, where: string): string {
  const path = checkedPath(text, 'recipient', where);
  if (path.kind === 'postmaster') return postmasterAddress(config);
  if (path.kind !== 'mailbox') throw new CliFailure(`bad recipient address ${JSON.stringify(text)} ${where}`, 2);
  return path.address;
}

function senderAddress(text: string): string {
  const path = checkedPath(text, 'sender', 'given with -f');
  return path.kind === 'mailbox' ? path.address : '';
}

/** USER@HOSTNAME, as Postfix's sendmail makes it from the login name and myorigin. */
function defaultSender(config: Config): string {
  const path = checkedPath(`${loginName()}@${config.hostname}`, 'sender', '(made from the login name; give one with -f)');
  return path.kind === 'mailbox' ? path.address : '';
}

function loginName(): string {
  try {
    return os.userInfo().username;
  } catch (err) {
    // A uid with no passwd entry (common in containers): the login environment is all there is.
    const name = process.env.LOGNAME ?? process.env.USER;
    if (name) return name;
    throw new CliFailure(`cannot tell the login name (${(err as Error).message}); give a sender with -f`);
  }
}

/** Each address once; the domain compares without case (RFC 5321 §2.4), the local part with it. */
function unique(addresses: string[]): string[] {
  const seen = new Set<string>();
  return addresses.filter((address) => {
    const at = address.lastIndexOf('@');
    const key = address.slice(0, at + 1) + address.slice(at + 1).toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
