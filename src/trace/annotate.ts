// The annotations of a transcript: for a command, its RFC section and what it
// asks (the HELP table, src/protocol/server/help.ts); for a reply, what its
// code and enhanced code mean and, for minimta's own replies, when it sends
// them (the reply table, src/reply-codes/). One source each, so a transcript
// says what HELP and `minimta explain` say.

import { describeReply, REPLIES, type Reply, type ReplyDefinition, type ReplyName } from '../reply-codes/index.js';
import { COMMAND_FACTS } from '../protocol/server/help.js';

/** "MAIL (RFC 5321 §4.1.1.2): Starts a transaction …", or undefined for a line that is no known command. */
export function annotateCommand(line: string): string | undefined {
  const verb = /^([A-Za-z]+)/.exec(line)?.[1]?.toUpperCase();
  if (!verb || !Object.hasOwn(COMMAND_FACTS, verb)) return undefined;
  const facts = COMMAND_FACTS[verb]!;
  return `${verb} (${facts.rfc}): ${facts.summary}`;
}

/** The code's meaning and, when the reply is one of ours, when minimta sends it. */
export function annotateReply(reply: Reply, ours: boolean): string[] {
  const notes = [`${reply.code} ${describeReply(reply)}`];
  const name = ours ? replyNameOf(reply) : undefined;
  if (name) notes.push(`why: ${REPLIES[name].when}`);
  return notes;
}

const TEMPLATES = (Object.keys(REPLIES) as ReplyName[]).map((name) => {
  const def: ReplyDefinition = REPLIES[name];
  const pattern = def.text.split(/\{\w+\}/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return { name, def, text: new RegExp(`^${pattern}$`, 's') };
});

/** Which entry of the reply table a reply was built from (first line, codes and text). */
export function replyNameOf(reply: Reply): ReplyName | undefined {
  const first = reply.lines[0] ?? '';
  return TEMPLATES.find(({ def, text }) => def.code === reply.code && def.enhanced === reply.enhanced && text.test(first))?.name;
}
