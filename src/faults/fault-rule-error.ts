// A fault rule that cannot be used, with the key that is wrong
// (e.g. "faults[2].reply.code"). The config turns it into a ConfigError,
// the HTTP API into a 400.

export class FaultRuleError extends Error {
  constructor(readonly key: string, message: string) {
    super(`${key}: ${message}`);
    this.name = 'FaultRuleError';
  }
}
