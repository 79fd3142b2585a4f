// What each SMTP command is: its syntax, the RFC section that defines it and
// one plain sentence of what it asks. HELP answers from this table (RFC 5321
// §4.1.1.8: 214 with help text), and the transcripts (src/trace/) annotate
// every command line with it, so both say the same thing.

import { reply, withLines, type Reply } from '../../reply-codes/index.js';

export interface CommandFacts {
  readonly syntax: string;
  readonly rfc: string;
  readonly summary: string;
  /** Known, but not done by minimta (answered 502, RFC 5321 §4.2.4). */
  readonly notImplemented?: boolean;
}

export const COMMAND_FACTS: Readonly<Record<string, CommandFacts>> = {
  EHLO: { syntax: 'EHLO <your-host-name>', rfc: 'RFC 5321 §4.1.1.1', summary: 'Opens the session with extensions: the server answers with the keywords it supports.' },
  HELO: { syntax: 'HELO <your-host-name>', rfc: 'RFC 5321 §4.1.1.1', summary: 'Opens the session without extensions (the old form of EHLO).' },
  MAIL: { syntax: 'MAIL FROM:<sender> [SIZE=n] [BODY=7BIT|8BITMIME] [SMTPUTF8] [AUTH=<mailbox>]', rfc: 'RFC 5321 §4.1.1.2', summary: 'Starts a transaction and names the sender, where a bounce would go (<> for a bounce itself).' },
  RCPT: { syntax: 'RCPT TO:<recipient>', rfc: 'RFC 5321 §4.1.1.3', summary: 'Names one recipient of the message; repeat for each.' },
  DATA: { syntax: 'DATA', rfc: 'RFC 5321 §4.1.1.4', summary: 'Asks to send the message itself; after 354 it ends with a line holding only ".".' },
  RSET: { syntax: 'RSET', rfc: 'RFC 5321 §4.1.1.5', summary: 'Abandons the current transaction; the session stays open.' },
  VRFY: { syntax: 'VRFY <address>', rfc: 'RFC 5321 §4.1.1.6', summary: 'Asks whether an address exists; a relay never says (252).' },
  EXPN: { syntax: 'EXPN <list>', rfc: 'RFC 5321 §4.1.1.7', summary: 'Asks for the members of a mailing list.', notImplemented: true },
  HELP: { syntax: 'HELP [<command>]', rfc: 'RFC 5321 §4.1.1.8', summary: 'Asks for help: the list of commands, or one command\'s syntax.' },
  NOOP: { syntax: 'NOOP', rfc: 'RFC 5321 §4.1.1.9', summary: 'Does nothing; the server answers 250 (a keep-alive).' },
  QUIT: { syntax: 'QUIT', rfc: 'RFC 5321 §4.1.1.10', summary: 'Ends the session; the server answers 221 and closes.' },
  STARTTLS: { syntax: 'STARTTLS', rfc: 'RFC 3207 §4', summary: 'Asks to switch the connection to TLS; afterwards the session starts over with EHLO.' },
  AUTH: { syntax: 'AUTH <mechanism> [<initial-response>]', rfc: 'RFC 4954 §4', summary: 'Authenticates the client (PLAIN or LOGIN, base64), which may then relay.' },
  BDAT: { syntax: 'BDAT <size> [LAST]', rfc: 'RFC 3030 §2', summary: 'Sends the message in chunks of a given size.', notImplemented: true },
  ETRN: { syntax: 'ETRN <domain>', rfc: 'RFC 1985 §3', summary: 'Asks the server to start delivering queued mail for a domain.', notImplemented: true },
  TURN: { syntax: 'TURN', rfc: 'RFC 821 §4.1.1; obsolete, RFC 5321 §4.2.4', summary: 'Asks to swap the client and server roles.', notImplemented: true },
};

/** Commands a client can use here, in the order of a transaction. */
const OFFERED = Object.keys(COMMAND_FACTS).filter((verb) => !COMMAND_FACTS[verb]!.notImplemented);

/** The 214 answer to HELP (no argument) or HELP <verb>; 504 for a topic we have no help on. */
export function helpReply(arg: string): Reply {
  const topic = arg.trim().split(/\s+/)[0]?.toUpperCase() ?? '';
  if (topic === '') {
    return withLines(reply('help'), [
      `Commands: ${OFFERED.join(' ')}`,
      '"HELP <command>" shows its syntax and RFC section',
      'SMTP is defined in RFC 5321: https://www.rfc-editor.org/rfc/rfc5321',
    ]);
  }
  const facts = Object.hasOwn(COMMAND_FACTS, topic) ? COMMAND_FACTS[topic] : undefined;
  if (!facts) return reply('helpUnknownTopic', { topic: topic.slice(0, 32) });
  return withLines(reply('help'), [
    facts.syntax,
    // Reply text is US-ASCII (RFC 5321 §4.2), so the section sign is spelt out.
    `${facts.rfc.replaceAll('§', 'section ')}${facts.notImplemented ? ' (not implemented by minimta: 502)' : ''}`,
    facts.summary,
  ]);
}
