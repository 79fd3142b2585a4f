// What a reply code means in general, apart from minimta's use of it: the
// basic codes of RFC 5321 §4.2.2-§4.2.3 (and the extensions that added
// some), and the enhanced status codes of RFC 3463 §3 with the later ones
// from the IANA registry (RFC 5248). `minimta explain` and the transcripts
// read these next to the reply table, so a code is described one way only.

export interface CodeMeaning {
  readonly meaning: string;
  readonly rfc: string;
}

/** Basic reply codes (RFC 5321 §4.2.2, §4.2.3 and the extensions named). */
export const BASIC_CODES: Readonly<Record<number, CodeMeaning>> = {
  211: { meaning: 'System status, or system help reply', rfc: 'RFC 5321 §4.2.3' },
  214: { meaning: 'Help message: how to use the server, or the meaning of a command', rfc: 'RFC 5321 §4.2.3' },
  220: { meaning: 'Service ready', rfc: 'RFC 5321 §4.2.3' },
  221: { meaning: 'Service closing transmission channel', rfc: 'RFC 5321 §4.2.3' },
  235: { meaning: 'Authentication succeeded', rfc: 'RFC 4954 §6' },
  250: { meaning: 'Requested mail action okay, completed', rfc: 'RFC 5321 §4.2.3' },
  251: { meaning: 'User not local; will forward', rfc: 'RFC 5321 §4.2.3' },
  252: { meaning: 'Cannot verify the user, but will accept the message and attempt delivery', rfc: 'RFC 5321 §4.2.3' },
  334: { meaning: 'Authentication challenge: send the next piece of the exchange', rfc: 'RFC 4954 §4' },
  354: { meaning: 'Start mail input; end with <CRLF>.<CRLF>', rfc: 'RFC 5321 §4.2.3' },
  421: { meaning: 'Service not available, closing transmission channel', rfc: 'RFC 5321 §4.2.3' },
  432: { meaning: 'A password transition is needed', rfc: 'RFC 4954 §6' },
  450: { meaning: 'Requested mail action not taken: mailbox unavailable (for now)', rfc: 'RFC 5321 §4.2.3' },
  451: { meaning: 'Requested action aborted: local error in processing', rfc: 'RFC 5321 §4.2.3' },
  452: { meaning: 'Requested action not taken: insufficient system storage', rfc: 'RFC 5321 §4.2.3' },
  454: { meaning: 'Temporary failure: TLS or authentication not available now', rfc: 'RFC 3207 §4; RFC 4954 §6' },
  455: { meaning: 'Server unable to accommodate parameters', rfc: 'RFC 5321 §4.2.3' },
  500: { meaning: 'Syntax error, command unrecognized (or command line too long)', rfc: 'RFC 5321 §4.2.3' },
  501: { meaning: 'Syntax error in parameters or arguments', rfc: 'RFC 5321 §4.2.3' },
  502: { meaning: 'Command not implemented', rfc: 'RFC 5321 §4.2.3' },
  503: { meaning: 'Bad sequence of commands', rfc: 'RFC 5321 §4.2.3' },
  504: { meaning: 'Command parameter not implemented', rfc: 'RFC 5321 §4.2.3' },
  521: { meaning: 'Host does not accept mail', rfc: 'RFC 7504 §3' },
  530: { meaning: 'Authentication (or TLS) required', rfc: 'RFC 4954 §6; RFC 3207 §4' },
  534: { meaning: 'Authentication mechanism is too weak', rfc: 'RFC 4954 §6' },
  535: { meaning: 'Authentication credentials invalid', rfc: 'RFC 4954 §6' },
  538: { meaning: 'Encryption required for the requested authentication mechanism', rfc: 'RFC 4954 §6' },
  550: { meaning: 'Requested action not taken: mailbox unavailable, or refused by policy', rfc: 'RFC 5321 §4.2.3' },
  551: { meaning: 'User not local; please try another path', rfc: 'RFC 5321 §4.2.3' },
  552: { meaning: 'Requested mail action aborted: exceeded storage allocation', rfc: 'RFC 5321 §4.2.3' },
  553: { meaning: 'Requested action not taken: mailbox name not allowed', rfc: 'RFC 5321 §4.2.3' },
  554: { meaning: 'Transaction failed (or, as a greeting, no SMTP service here)', rfc: 'RFC 5321 §4.2.3' },
  555: { meaning: 'MAIL FROM/RCPT TO parameters not recognized or not implemented', rfc: 'RFC 5321 §4.2.3' },
  556: { meaning: 'Domain does not accept mail', rfc: 'RFC 7504 §4' },
};

/** The first digit of a basic code (RFC 5321 §4.2.1). */
export const BASIC_CLASSES: Readonly<Record<string, string>> = {
  '2': 'positive completion: the command succeeded',
  '3': 'positive intermediate: go on, send the rest',
  '4': 'transient negative: failed for now, the same command may succeed later',
  '5': 'permanent negative: failed, do not repeat the same command unchanged',
};

/** The class digit of an enhanced code (RFC 3463 §3.1). */
export const ENHANCED_CLASSES: Readonly<Record<string, string>> = {
  '2': 'Success',
  '4': 'Persistent transient failure',
  '5': 'Permanent failure',
};

/** Subjects, the middle number (RFC 3463 §3.2-§3.8, each X.n.0). */
export const ENHANCED_SUBJECTS: Readonly<Record<string, string>> = {
  '0': 'Other or undefined status',
  '1': 'Addressing status',
  '2': 'Mailbox status',
  '3': 'Mail system status',
  '4': 'Network and routing status',
  '5': 'Mail delivery protocol status',
  '6': 'Message content or media status',
  '7': 'Security or policy status',
};

/** "subject.detail" → meaning (RFC 3463 §3 and the IANA registry, RFC 5248). */
export const ENHANCED_DETAILS: Readonly<Record<string, CodeMeaning>> = {
  '0.0': { meaning: 'Other undefined status', rfc: 'RFC 3463 §3.1' },
  '1.0': { meaning: 'Other address status', rfc: 'RFC 3463 §3.2' },
  '1.1': { meaning: 'Bad destination mailbox address', rfc: 'RFC 3463 §3.2' },
  '1.2': { meaning: 'Bad destination system address', rfc: 'RFC 3463 §3.2' },
  '1.3': { meaning: 'Bad destination mailbox address syntax', rfc: 'RFC 3463 §3.2' },
  '1.4': { meaning: 'Destination mailbox address ambiguous', rfc: 'RFC 3463 §3.2' },
  '1.5': { meaning: 'Destination address valid', rfc: 'RFC 3463 §3.2' },
  '1.6': { meaning: 'Destination mailbox has moved, no forwarding address', rfc: 'RFC 3463 §3.2' },
  '1.7': { meaning: "Bad sender's mailbox address syntax", rfc: 'RFC 3463 §3.2' },
  '1.8': { meaning: "Bad sender's system address", rfc: 'RFC 3463 §3.2' },
  '1.10': { meaning: 'Recipient address has null MX', rfc: 'RFC 7505 §4.1' },
  '2.0': { meaning: 'Other or undefined mailbox status', rfc: 'RFC 3463 §3.3' },
  '2.1': { meaning: 'Mailbox disabled, not accepting messages', rfc: 'RFC 3463 §3.3' },
  '2.2': { meaning: 'Mailbox full', rfc: 'RFC 3463 §3.3' },
  '2.3': { meaning: 'Message length exceeds administrative limit', rfc: 'RFC 3463 §3.3' },
  '2.4': { meaning: 'Mailing list expansion problem', rfc: 'RFC 3463 §3.3' },
  '3.0': { meaning: 'Other or undefined mail system status', rfc: 'RFC 3463 §3.4' },
  '3.1': { meaning: 'Mail system full', rfc: 'RFC 3463 §3.4' },
  '3.2': { meaning: 'System not accepting network messages', rfc: 'RFC 3463 §3.4' },
  '3.3': { meaning: 'System not capable of selected features', rfc: 'RFC 3463 §3.4' },
  '3.4': { meaning: 'Message too big for system', rfc: 'RFC 3463 §3.4' },
  '3.5': { meaning: 'System incorrectly configured', rfc: 'RFC 3463 §3.4' },
  '4.0': { meaning: 'Other or undefined network or routing status', rfc: 'RFC 3463 §3.5' },
  '4.1': { meaning: 'No answer from host', rfc: 'RFC 3463 §3.5' },
  '4.2': { meaning: 'Bad connection', rfc: 'RFC 3463 §3.5' },
  '4.3': { meaning: 'Directory server failure', rfc: 'RFC 3463 §3.5' },
  '4.4': { meaning: 'Unable to route', rfc: 'RFC 3463 §3.5' },
  '4.5': { meaning: 'Mail system congestion', rfc: 'RFC 3463 §3.5' },
  '4.6': { meaning: 'Routing loop detected', rfc: 'RFC 3463 §3.5' },
  '4.7': { meaning: 'Delivery time expired', rfc: 'RFC 3463 §3.5' },
  '5.0': { meaning: 'Other or undefined protocol status', rfc: 'RFC 3463 §3.6' },
  '5.1': { meaning: 'Invalid command', rfc: 'RFC 3463 §3.6' },
  '5.2': { meaning: 'Syntax error', rfc: 'RFC 3463 §3.6' },
  '5.3': { meaning: 'Too many recipients', rfc: 'RFC 3463 §3.6' },
  '5.4': { meaning: 'Invalid command arguments', rfc: 'RFC 3463 §3.6' },
  '5.5': { meaning: 'Wrong protocol version', rfc: 'RFC 3463 §3.6' },
  '5.6': { meaning: 'Authentication Exchange line is too long', rfc: 'RFC 4954 §6' },
  '6.0': { meaning: 'Other or undefined media error', rfc: 'RFC 3463 §3.7' },
  '6.1': { meaning: 'Media not supported', rfc: 'RFC 3463 §3.7' },
  '6.2': { meaning: 'Conversion required and prohibited', rfc: 'RFC 3463 §3.7' },
  '6.3': { meaning: 'Conversion required but not supported', rfc: 'RFC 3463 §3.7' },
  '6.4': { meaning: 'Conversion with loss performed', rfc: 'RFC 3463 §3.7' },
  '6.5': { meaning: 'Conversion failed', rfc: 'RFC 3463 §3.7' },
  '6.7': { meaning: 'Non-ASCII addresses not permitted for that sender or recipient', rfc: 'RFC 6531 §3.7.1' },
  '7.0': { meaning: 'Other or undefined security status', rfc: 'RFC 3463 §3.8' },
  '7.1': { meaning: 'Delivery not authorized, message refused', rfc: 'RFC 3463 §3.8' },
  '7.2': { meaning: 'Mailing list expansion prohibited', rfc: 'RFC 3463 §3.8' },
  '7.3': { meaning: 'Security conversion required but not possible', rfc: 'RFC 3463 §3.8' },
  '7.4': { meaning: 'Security features not supported', rfc: 'RFC 3463 §3.8' },
  '7.5': { meaning: 'Cryptographic failure', rfc: 'RFC 3463 §3.8' },
  '7.6': { meaning: 'Cryptographic algorithm not supported', rfc: 'RFC 3463 §3.8' },
  '7.7': { meaning: 'Message integrity failure', rfc: 'RFC 3463 §3.8' },
  '7.8': { meaning: 'Authentication credentials invalid', rfc: 'RFC 4954 §6' },
  '7.9': { meaning: 'Authentication mechanism is too weak', rfc: 'RFC 4954 §6' },
  '7.10': { meaning: 'Encryption needed', rfc: 'RFC 5248 §2.4' },
  '7.11': { meaning: 'Encryption required for requested authentication mechanism', rfc: 'RFC 4954 §6' },
  '7.12': { meaning: 'A password transition is needed', rfc: 'RFC 4954 §6' },
  '7.27': { meaning: 'Sender address has null MX', rfc: 'RFC 7505 §4.2' },
};

const ENHANCED = /^([245])\.(\d{1,3})\.(\d{1,3})$/;

/** Is this text an enhanced status code ("class.subject.detail")? */
export function isEnhancedCode(text: string): boolean {
  return ENHANCED.test(text);
}

/** "5.1.10" → "Permanent failure: Recipient address has null MX" (RFC 3463 §2). */
export function enhancedMeaning(code: string): string | undefined {
  const m = ENHANCED.exec(code);
  if (!m) return undefined;
  const [, cls, subject, detail] = m as unknown as [string, string, string, string];
  const known = ENHANCED_DETAILS[`${subject}.${detail}`];
  // An unlisted detail is judged by its subject (RFC 3463 §2: "X.Y.0" is the fallback).
  const what = known?.meaning ?? `${ENHANCED_SUBJECTS[subject] ?? 'Unknown subject'} (detail ${detail} not listed)`;
  return `${ENHANCED_CLASSES[cls]}: ${what}`;
}

/** The RFC that defines an enhanced code's subject.detail, when listed. */
export function enhancedRfc(code: string): string | undefined {
  const m = ENHANCED.exec(code);
  return m ? ENHANCED_DETAILS[`${m[2]}.${m[3]}`]?.rfc : undefined;
}

/** 556 → "Domain does not accept mail"; an unlisted code by its first digit (RFC 5321 §4.2.1). */
export function basicMeaning(code: number): string {
  return BASIC_CODES[code]?.meaning ?? `unlisted code, read by its first digit: ${BASIC_CLASSES[String(code)[0] ?? ''] ?? 'not a valid reply class'}`;
}
