// The fault rules in force and their counters: which rule, if any, fires
// for a given moment of a session. Rules are tried in order and the first
// that fires wins. Conditions are checked cheapest first, and the
// pseudo-random draw last, so a seeded run repeats exactly.

import { matchesAny } from '../policy/cidr.js';
import { reply, type Reply } from '../reply-codes/index.js';
import { checkFaultRules, type FaultAction, type FaultRule, type FaultRuleSpec, type FaultStage } from './fault-rule.js';

/** What is known at the moment a rule may fire. */
export interface FaultFacts {
  stage: FaultStage;
  clientIp: string;
  listenerPort: number;
  /** From MAIL on ('' for <>). */
  sender?: string;
  /** At rcpt: the one being added; at data and end-of-data: those accepted. */
  recipients?: readonly string[];
}

export interface FaultDecision {
  rule: FaultRule;
  action: FaultAction;
  /** The reply to send, for reply and rate actions (a rate rule's default is 421 4.7.0). */
  reply?: Reply;
  delayMs: number;
}

interface RuleState {
  rule: FaultRule;
  fired: number;
  random: () => number;
}

/** mulberry32: a small, well-mixed 32-bit generator; the same seed gives the same sequence. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class FaultRules {
  private states: RuleState[] = [];
  /** Messages accepted since the rules were set, and when (for rate rules). */
  private accepted = 0;
  private acceptedAt: number[] = [];
  /** Told of every rule that fires (the event stream). */
  onFired?: (decision: FaultDecision, stage: FaultStage) => void;

  constructor(
    rules: FaultRule[],
    private readonly hostname: string,
    private readonly now: () => number = Date.now,
  ) {
    this.set(rules);
  }

  /** Replaces the rules; every counter starts again. */
  set(rules: FaultRule[]): void {
    this.states = rules.map((rule) => ({ rule, fired: 0, random: seededRandom(rule.spec.seed ?? 1) }));
    this.accepted = 0;
    this.acceptedAt = [];
  }

  /** Checks JSON rules and puts them in force (the HTTP and JS APIs). */
  setFromJson(raw: unknown): FaultRuleSpec[] {
    this.set(checkFaultRules(raw));
    return this.specs();
  }

  /** No rule is in force: nothing can fire (a session need not ask). */
  get empty(): boolean {
    return this.states.length === 0;
  }

  /** The rules in force, as given. */
  specs(): FaultRuleSpec[] {
    return this.states.map((s) => s.rule.spec);
  }

  /** The rule that fires now, if any; counts it as fired. */
  decide(facts: FaultFacts): FaultDecision | undefined {
    for (const state of this.states) {
      const { rule } = state;
      if (rule.stage !== facts.stage || !this.matches(rule, facts)) continue;
      if (rule.spec.afterMessages !== undefined && this.accepted < rule.spec.afterMessages) continue;
      if (rule.spec.rate !== undefined && this.inWindow(rule.spec.rate.seconds) < rule.spec.rate.messages) continue;
      if (rule.spec.times !== undefined && state.fired >= rule.spec.times) continue;
      if (rule.spec.probability !== undefined && !(state.random() < rule.spec.probability)) continue;
      state.fired++;
      return { rule, action: rule.action, reply: this.replyOf(rule.action), delayMs: rule.delayMs };
    }
    return undefined;
  }

  /** A message was accepted (its 250 after DATA): afterMessages and rate rules count it. */
  messageAccepted(): void {
    this.accepted++;
    this.acceptedAt.push(this.now());
    const longest = Math.max(0, ...this.states.map((s) => s.rule.spec.rate?.seconds ?? 0));
    const horizon = this.now() - longest * 1000;
    while (this.acceptedAt.length > 0 && this.acceptedAt[0]! < horizon) this.acceptedAt.shift();
  }

  private inWindow(seconds: number): number {
    const since = this.now() - seconds * 1000;
    return this.acceptedAt.filter((t) => t >= since).length;
  }

  private matches(rule: FaultRule, facts: FaultFacts): boolean {
    if (rule.listener !== undefined && rule.listener !== facts.listenerPort) return false;
    if (rule.clientIp !== undefined && !matchesAny(facts.clientIp, [rule.clientIp])) return false;
    if (rule.sender !== undefined && (facts.sender === undefined || !rule.sender(facts.sender))) return false;
    if (rule.recipient !== undefined && !(facts.recipients ?? []).some((r) => rule.recipient!(r))) return false;
    return true;
  }

  private replyOf(action: FaultAction): Reply | undefined {
    if (action.kind === 'reply') return action.reply;
    if (action.kind === 'rate') return action.reply ?? reply('faultRateExceeded', { host: this.hostname });
    return undefined;
  }
}
