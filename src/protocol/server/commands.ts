// Command lines and the arguments of MAIL and RCPT (RFC 5321 §4.1.1, §4.1.2),
// with the ESMTP parameters minimta offers: SIZE (RFC 1870), BODY (RFC 6152),
// SMTPUTF8 (RFC 6531), AUTH (RFC 4954 §5), and DSN's RET and ENVID on MAIL,
// NOTIFY and ORCPT on RCPT (RFC 3461 §4).
//
// Order of judgement, so that one command always gets the same reply:
//   1. "FROM:" / "TO:" and a path present        else 501 5.5.4 (usage)
//   2. the path: non-ASCII without SMTPUTF8      553 5.6.7
//                then any syntax or length fault 501 5.1.7 / 501 5.1.3
//   3. the parameters, left to right             555 5.5.4 unknown, 501 5.5.4 malformed
// For MAIL, step 2 needs to know whether SMTPUTF8 was declared; a bare
// SMTPUTF8 word among the parameters counts as declared even if another
// parameter is then refused.

import { XTEXT, decodeXtext } from '../shared/xtext.js';
import { parsePath, splitPathAndParams, type Path } from '../shared/address.js';
import { reply, ReplyError } from '../../reply-codes/index.js';

export interface CommandLine {
  /** The verb, upper-cased (ASCII letters only). */
  verb: string;
  /** The raw text after the verb and its one separating space; '' if none. */
  arg: string;
}

export interface MailParameters {
  /** SIZE=, the declared message size in octets (RFC 1870 §6). */
  size?: number;
  /** BODY=, upper-cased (RFC 6152 §2). */
  body?: '7BIT' | '8BITMIME';
  /** SMTPUTF8 was given (RFC 6531 §3.4). */
  smtputf8: boolean;
  /** AUTH=, still xtext-encoded as received, as it is passed on (RFC 4954 §5). */
  auth?: string;
  /** RET=: return the full message or only its headers in a failure DSN (RFC 3461 §4.3). */
  ret?: 'FULL' | 'HDRS';
  /** ENVID=, xtext-decoded: the sender's id for this transaction, echoed in DSNs (RFC 3461 §4.4). */
  envid?: string;
}

export type DsnNotify = 'SUCCESS' | 'FAILURE' | 'DELAY';

/** The DSN parameters of one RCPT (RFC 3461 §4.1, §4.2). */
export interface RcptParameters {
  /** NOTIFY=: when to tell the sender; [] is NEVER. Absent: failures and delays (§4.1). */
  notify?: DsnNotify[];
  /** ORCPT=: the original recipient, its address type and the xtext-decoded address. */
  orcpt?: { type: string; address: string };
}

export interface MailArguments {
  path: Path;
  params: MailParameters;
}

export interface ParameterContext {
  /** The session began with EHLO; after HELO no parameter is known (RFC 5321 §4.1.1.11). */
  extended: boolean;
  /** AUTH is in the EHLO reply, so MAIL must accept AUTH= (RFC 4954 §5). */
  authAdvertised: boolean;
}

/** How strictly MAIL and RCPT paths are read (smtp.strictEnvelopes; see address.ts). */
export interface EnvelopeSyntax {
  strictEnvelopes: boolean;
}

interface ParameterRule<P> {
  /** Whether the keyword is offered in this session. */
  offered(ctx: ParameterContext): boolean;
  /** Stores the value into the parameters; throws a ReplyError if it is bad. */
  apply(value: string | undefined, params: P, token: string): void;
}

const MAIL_USAGE = 'MAIL FROM:<address>';
const RCPT_USAGE = 'RCPT TO:<address>';
// No space before the colon (§3.3); one after it is tolerated, as Postfix does.
const MAIL_KEYWORD = /^FROM: ?/i;
const RCPT_KEYWORD = /^TO: ?/i;

// esmtp-keyword and esmtp-value (RFC 5321 §4.1.2).
const ESMTP_KEYWORD = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
const ESMTP_VALUE = /^[\x21-\x3C\x3E-\x7E]+$/;
const SIZE_VALUE = /^\d{1,20}$/;
const SMTPUTF8_WORD = /^SMTPUTF8$/i;
const TRAILING_WHITE_SPACE = /[ \t]+$/;

// After HELO, rather than EHLO, no parameter is offered (RFC 5321 §4.1.1.11).
const afterEhlo = (ctx: ParameterContext): boolean => ctx.extended;

const MAIL_PARAMETERS: ReadonlyMap<string, ParameterRule<MailParameters>> = new Map([
  ['SIZE', {
    offered: afterEhlo,
    apply(value, params, token) {
      if (value === undefined || !SIZE_VALUE.test(value)) throw badParameter(token);
      params.size = Number(value);
    },
  }],
  ['BODY', {
    offered: afterEhlo,
    apply(value, params, token) {
      const body = asciiUpperCase(value ?? '');
      // BINARYMIME needs CHUNKING (RFC 3030 §3), which minimta does not offer.
      if (body === 'BINARYMIME') throw new ReplyError(reply('binaryMime'));
      if (body !== '7BIT' && body !== '8BITMIME') throw badParameter(token);
      params.body = body;
    },
  }],
  ['SMTPUTF8', {
    offered: afterEhlo,
    apply(value, params, token) {
      if (value !== undefined) throw badParameter(token);
      params.smtputf8 = true;
    },
  }],
  ['AUTH', {
    offered: (ctx) => ctx.extended && ctx.authAdvertised,
    apply(value, params, token) {
      if (value === undefined || !XTEXT.test(value)) throw badParameter(token);
      params.auth = value;
    },
  }],
  ['RET', {
    offered: afterEhlo,
    apply(value, params, token) {
      const ret = asciiUpperCase(value ?? '');
      if (ret !== 'FULL' && ret !== 'HDRS') throw badParameter(token);
      params.ret = ret;
    },
  }],
  ['ENVID', {
    offered: afterEhlo,
    apply(value, params, token) {
      if (value === undefined || !XTEXT.test(value)) throw badParameter(token);
      const envid = decodeXtext(value);
      if (envid.length > MAX_ENVID || /[^\x20-\x7e]/.test(envid)) throw badParameter(token);
      params.envid = envid;
    },
  }],
]);

// RFC 3461 §4.4: ENVID is at most 100 characters; §4.2: ORCPT at most 500.
const MAX_ENVID = 100;
const MAX_ORCPT = 500;
const NOTIFY_WORDS: readonly DsnNotify[] = ['SUCCESS', 'FAILURE', 'DELAY'];
// addr-type is an atom (RFC 3461 §4.2; RFC 5322 §3.2.3).
const ADDR_TYPE = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+$/;

const RCPT_PARAMETERS: ReadonlyMap<string, ParameterRule<RcptParameters>> = new Map([
  ['NOTIFY', {
    offered: afterEhlo,
    apply(value, params, token) {
      const words = asciiUpperCase(value ?? '').split(',');
      // NEVER stands alone; the others in any order, each once (RFC 3461 §4.1).
      if (words.length === 1 && words[0] === 'NEVER') {
        params.notify = [];
        return;
      }
      if (!words.every((w) => NOTIFY_WORDS.includes(w as DsnNotify)) || new Set(words).size !== words.length) throw badParameter(token);
      params.notify = words as DsnNotify[];
    },
  }],
  ['ORCPT', {
    offered: afterEhlo,
    apply(value, params, token) {
      const semicolon = value?.indexOf(';') ?? -1;
      if (value === undefined || value.length > MAX_ORCPT || semicolon < 1) throw badParameter(token);
      const type = value.slice(0, semicolon);
      const encoded = value.slice(semicolon + 1);
      if (!ADDR_TYPE.test(type) || !XTEXT.test(encoded)) throw badParameter(token);
      params.orcpt = { type: asciiUpperCase(type) === 'RFC822' ? 'rfc822' : type, address: decodeXtext(encoded) };
    },
  }],
]);

/**
 * Splits a command line (without CRLF) into verb and argument. Trailing
 * white space is dropped (RFC 5321 §4.1.1: receivers SHOULD tolerate it);
 * any other spaces stay in the argument for the command to judge.
 */
export function splitCommand(line: string): CommandLine {
  const text = line.replace(TRAILING_WHITE_SPACE, '');
  const space = text.indexOf(' ');
  if (space === -1) return { verb: asciiUpperCase(text), arg: '' };
  return { verb: asciiUpperCase(text.slice(0, space)), arg: text.slice(space + 1) };
}

/** Parses the argument of MAIL: "FROM:<path> [params]". Throws a ReplyError. */
export function parseMailArguments(arg: string, ctx: ParameterContext & EnvelopeSyntax): MailArguments {
  const { pathText, paramsText } = pathAndParamsAfter(arg, MAIL_KEYWORD, MAIL_USAGE);
  const utf8 = paramsText.split(' ').some((word) => SMTPUTF8_WORD.test(word));
  const path = parsePath(pathText, 'sender', { utf8, strict: ctx.strictEnvelopes });
  const params = parseParameters(paramsText, MAIL_PARAMETERS, ctx, { smtputf8: false });
  return { path, params };
}

/** Parses the argument of RCPT: "TO:<path> [params]". `utf8` is the transaction's SMTPUTF8. Throws a ReplyError. */
export function parseRcptArguments(
  arg: string,
  ctx: ParameterContext & EnvelopeSyntax & { utf8: boolean },
): { path: Path; params: RcptParameters } {
  const { pathText, paramsText } = pathAndParamsAfter(arg, RCPT_KEYWORD, RCPT_USAGE);
  const path = parsePath(pathText, 'recipient', { utf8: ctx.utf8, strict: ctx.strictEnvelopes });
  const params = parseParameters<RcptParameters>(paramsText, RCPT_PARAMETERS, ctx, {});
  return { path, params };
}

function pathAndParamsAfter(arg: string, keyword: RegExp, usage: string): { pathText: string; paramsText: string } {
  const text = arg.replace(TRAILING_WHITE_SPACE, '');
  const match = keyword.exec(text);
  const parts = match ? splitPathAndParams(text.slice(match[0].length)) : null;
  if (parts === null || parts.pathText === '') throw new ReplyError(reply('syntax', { usage }));
  return parts;
}

/**
 * esmtp-param *(SP esmtp-param) (RFC 5321 §4.1.2), judged left to right:
 * malformed → 501, not offered → 555, repeated → 501, then the keyword's
 * own rule for its value.
 */
function parseParameters<P>(
  text: string,
  rules: ReadonlyMap<string, ParameterRule<P>>,
  ctx: ParameterContext,
  params: P,
): P {
  if (text === '') return params;
  const seen = new Set<string>();
  for (const token of text.split(' ')) {
    const equals = token.indexOf('=');
    const name = equals === -1 ? token : token.slice(0, equals);
    const value = equals === -1 ? undefined : token.slice(equals + 1);
    if (!ESMTP_KEYWORD.test(name)) throw badParameter(token);
    const keyword = asciiUpperCase(name);
    const rule = rules.get(keyword);
    if (rule === undefined || !rule.offered(ctx)) {
      throw new ReplyError(reply('unknownParameter', { param: keyword }));
    }
    if (seen.has(keyword) || (value !== undefined && !ESMTP_VALUE.test(value))) throw badParameter(token);
    seen.add(keyword);
    rule.apply(value, params, token);
  }
  return params;
}

function badParameter(token: string): ReplyError {
  return new ReplyError(reply('badParameter', { param: token }));
}

/** Upper-cases ASCII letters only, so no other letter can turn into a verb or keyword ("ı" → "I"). */
function asciiUpperCase(text: string): string {
  return text.replace(/[a-z]+/g, (letters) => letters.toUpperCase());
}
