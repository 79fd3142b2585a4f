// Fault rules: the SMTP failures a test asks for. A rule has a stage (when
// it applies), a match (to whom), conditions (how often) and an action (what
// happens instead of the normal reply). Rules come from config `faults`, the
// HTTP API (PUT /api/faults) and the JS API (setFaults), all as the JSON
// checked here: a bad rule is refused with the key that is wrong.

import { configuredReply, type Reply } from '../reply-codes/index.js';
import { parseCidr } from '../policy/cidr.js';
import { compileAddressPattern, type AddressMatcher } from './address-pattern.js';
import { FaultRuleError } from './fault-rule-error.js';

export { FaultRuleError };

/** Where in the SMTP dialogue a rule applies (RFC 5321 §3.1, §4.1.1; RFC 3207; RFC 4954). */
export const FAULT_STAGES = ['connect', 'ehlo', 'starttls', 'auth', 'mail', 'rcpt', 'data', 'end-of-data'] as const;
export type FaultStage = (typeof FAULT_STAGES)[number];

/** The JSON form of a rule. */
export interface FaultRuleSpec {
  /** Shown in the log line when the rule fires. */
  name?: string;
  /** "helo" is accepted for "ehlo": both greetings are one stage. */
  stage: FaultStage | 'helo';
  match?: {
    /** user@example.com (exact), @example.com (domain), *glob* (* and ?), or /regex/flags. Case-insensitive except a regex without i. */
    sender?: string;
    recipient?: string;
    /** An address or a CIDR block. */
    clientIp?: string;
    /** The listener's port. */
    listener?: number;
  };
  /** Answer this instead of the normal reply (4xx or 5xx; 421 also closes). */
  reply?: { code: number; enhanced?: string; text?: string };
  /** Wait this long before replying (with `reply`, before it; alone, before the normal reply). */
  delay?: number;
  /** Close the connection without a reply, or (stage data) after this many bytes of message data. */
  close?: 'before-reply' | { afterBytes: number };
  /** Stage end-of-data only: answer 250 as usual but keep nothing. */
  discard?: boolean;
  /** Fire for the first N matches only. */
  times?: number;
  /** Fire only once this many messages have been accepted since the rules were set. */
  afterMessages?: number;
  /** Fire only while more than `messages` messages were accepted in the last `seconds`; default reply 421 4.7.0. */
  rate?: { messages: number; seconds: number };
  /** Fire with this probability (0-1), from a pseudo-random sequence seeded by `seed` (default 1). */
  probability?: number;
  seed?: number;
}

export type FaultAction =
  | { kind: 'reply'; reply: Reply }
  | { kind: 'rate'; reply?: Reply }
  | { kind: 'close' }
  | { kind: 'close-after-bytes'; bytes: number }
  | { kind: 'discard' }
  | { kind: 'delay-only' };

/** A checked rule, ready to be matched. */
export interface FaultRule {
  spec: FaultRuleSpec;
  stage: FaultStage;
  description: string;
  sender?: AddressMatcher;
  recipient?: AddressMatcher;
  clientIp?: ReturnType<typeof parseCidr>;
  listener?: number;
  action: FaultAction;
  delayMs: number;
}

/** Stages before MAIL know no sender; only rcpt and later know recipients. */
const KNOWS_SENDER = new Set<FaultStage>(['mail', 'rcpt', 'data', 'end-of-data']);
const KNOWS_RECIPIENT = new Set<FaultStage>(['rcpt', 'data', 'end-of-data']);
const KEYS = new Set(['name', 'stage', 'match', 'reply', 'delay', 'close', 'discard', 'times', 'afterMessages', 'rate', 'probability', 'seed']);
const MATCH_KEYS = new Set(['sender', 'recipient', 'clientIp', 'listener']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function count(value: unknown, key: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) throw new FaultRuleError(key, `must be an integer, at least ${min}`);
  return value;
}

/** Checks a list of rules (config `faults`, PUT /api/faults, setFaults); `key` prefixes error messages. */
export function checkFaultRules(raw: unknown, key = 'faults'): FaultRule[] {
  if (!Array.isArray(raw)) throw new FaultRuleError(key, 'must be a list of rules');
  return raw.map((rule, i) => checkFaultRule(rule, `${key}[${i}]`));
}

export function checkFaultRule(raw: unknown, key: string): FaultRule {
  if (!isObject(raw)) throw new FaultRuleError(key, 'must be an object');
  for (const name of Object.keys(raw)) if (!KEYS.has(name)) throw new FaultRuleError(`${key}.${name}`, 'unknown key');
  const spec = raw as unknown as FaultRuleSpec;
  const stage = spec.stage === 'helo' ? 'ehlo' : spec.stage;
  if (!FAULT_STAGES.includes(stage)) throw new FaultRuleError(`${key}.stage`, `must be one of ${FAULT_STAGES.join(', ')}`);
  if (spec.name !== undefined && typeof spec.name !== 'string') throw new FaultRuleError(`${key}.name`, 'must be a string');

  const rule: FaultRule = { spec, stage, description: '', action: { kind: 'delay-only' }, delayMs: 0 };
  const match = spec.match ?? {};
  if (!isObject(match)) throw new FaultRuleError(`${key}.match`, 'must be an object');
  for (const name of Object.keys(match)) if (!MATCH_KEYS.has(name)) throw new FaultRuleError(`${key}.match.${name}`, 'unknown key');
  if (match.sender !== undefined) {
    if (!KNOWS_SENDER.has(stage)) throw new FaultRuleError(`${key}.match.sender`, `the sender is not known yet at stage ${stage}`);
    rule.sender = compileAddressPattern(match.sender, `${key}.match.sender`);
  }
  if (match.recipient !== undefined) {
    if (!KNOWS_RECIPIENT.has(stage)) throw new FaultRuleError(`${key}.match.recipient`, `no recipient is known yet at stage ${stage}`);
    rule.recipient = compileAddressPattern(match.recipient, `${key}.match.recipient`);
  }
  if (match.clientIp !== undefined) {
    try {
      rule.clientIp = parseCidr(String(match.clientIp));
    } catch {
      throw new FaultRuleError(`${key}.match.clientIp`, `"${match.clientIp}" is not an address or CIDR block`);
    }
  }
  if (match.listener !== undefined) rule.listener = count(match.listener, `${key}.match.listener`, 1);

  count(spec.times, `${key}.times`, 1);
  count(spec.afterMessages, `${key}.afterMessages`, 0);
  if (spec.delay !== undefined && (typeof spec.delay !== 'number' || !(spec.delay >= 0) || spec.delay > 600_000)) {
    throw new FaultRuleError(`${key}.delay`, 'must be a number of milliseconds, 0 to 600000');
  }
  rule.delayMs = spec.delay ?? 0;
  if (spec.probability !== undefined && (typeof spec.probability !== 'number' || !(spec.probability >= 0 && spec.probability <= 1))) {
    throw new FaultRuleError(`${key}.probability`, 'must be a number from 0 to 1');
  }
  if (spec.seed !== undefined && (typeof spec.seed !== 'number' || !Number.isInteger(spec.seed))) throw new FaultRuleError(`${key}.seed`, 'must be an integer');
  if (spec.rate !== undefined) {
    if (!isObject(spec.rate)) throw new FaultRuleError(`${key}.rate`, 'must be {messages, seconds}');
    count(spec.rate.messages, `${key}.rate.messages`, 0);
    if (typeof spec.rate.seconds !== 'number' || !(spec.rate.seconds > 0)) throw new FaultRuleError(`${key}.rate.seconds`, 'must be a number of seconds above 0');
  }

  rule.action = checkAction(spec, stage, key);
  rule.description = describe(rule);
  return rule;
}

function checkAction(spec: FaultRuleSpec, stage: FaultStage, key: string): FaultAction {
  const actions = (['reply', 'close', 'discard'] as const).filter((name) => spec[name] !== undefined);
  if (actions.length > 1) throw new FaultRuleError(key, `one action per rule: ${actions.join(' and ')} together`);
  if (spec.discard !== undefined) {
    if (spec.discard !== true) throw new FaultRuleError(`${key}.discard`, 'must be true');
    if (stage !== 'end-of-data') throw new FaultRuleError(`${key}.discard`, 'applies at stage end-of-data only');
    return { kind: 'discard' };
  }
  if (spec.close !== undefined) {
    if (spec.close === 'before-reply') return { kind: 'close' };
    if (isObject(spec.close) && Object.keys(spec.close).join() === 'afterBytes') {
      if (stage !== 'data') throw new FaultRuleError(`${key}.close.afterBytes`, 'applies at stage data only (the bytes after the 354)');
      return { kind: 'close-after-bytes', bytes: count(spec.close.afterBytes, `${key}.close.afterBytes`, 0)! };
    }
    throw new FaultRuleError(`${key}.close`, 'must be "before-reply" or {"afterBytes": N}');
  }
  let reply: Reply | undefined;
  if (spec.reply !== undefined) {
    if (!isObject(spec.reply)) throw new FaultRuleError(`${key}.reply`, 'must be {code, enhanced, text}');
    try {
      reply = configuredReply(spec.reply);
    } catch (err) {
      throw new FaultRuleError(`${key}.reply`, (err as Error).message);
    }
    // A rule only refuses: a 2xx or 3xx would skip a step of the protocol
    // (a 250 at RCPT that the session never recorded, a 354 never followed).
    if (reply.code < 400) throw new FaultRuleError(`${key}.reply.code`, `${reply.code} at stage ${stage}: a fault rule's reply must be 4xx or 5xx (use "discard" to accept and drop)`);
  }
  if (spec.rate !== undefined) return reply ? { kind: 'rate', reply } : { kind: 'rate' };
  if (reply) return { kind: 'reply', reply };
  if (spec.delay === undefined) throw new FaultRuleError(key, 'needs an action: reply, delay, close, discard or rate');
  return { kind: 'delay-only' };
}

function describe(rule: FaultRule): string {
  const { spec } = rule;
  const parts = [spec.name ? `"${spec.name}"` : '', `stage=${rule.stage}`];
  for (const [name, value] of Object.entries(spec.match ?? {})) parts.push(`${name}=${value}`);
  const action = rule.action;
  if (action.kind === 'reply' || (action.kind === 'rate' && action.reply)) parts.push(`reply=${action.reply!.code}${action.reply!.enhanced ? ` ${action.reply!.enhanced}` : ''}`);
  if (action.kind === 'rate') parts.push(`rate=${spec.rate!.messages}/${spec.rate!.seconds}s`);
  if (action.kind === 'close') parts.push('close=before-reply');
  if (action.kind === 'close-after-bytes') parts.push(`close=after ${action.bytes} bytes`);
  if (action.kind === 'discard') parts.push('discard');
  if (rule.delayMs) parts.push(`delay=${rule.delayMs}ms`);
  if (spec.times !== undefined) parts.push(`times=${spec.times}`);
  if (spec.afterMessages !== undefined) parts.push(`afterMessages=${spec.afterMessages}`);
  if (spec.probability !== undefined) parts.push(`probability=${spec.probability} seed=${spec.seed ?? 1}`);
  return parts.filter(Boolean).join(' ');
}
