// One validator kit, for the config file (config-schema.ts) and for the
// spool's envelope.json (queue/spool/envelope.ts). A check takes a value and
// the path that leads to it ("limits.maxRecipients",
// "envelope.recipients[0].state") and returns the value, typed, or throws the
// error its user asked for, naming the path and what was expected.

export type Check<T> = (value: unknown, path: string) => T;

/** Makes the error a check throws: a ConfigError for the config, a SpoolError for an envelope. */
export type Failure = (path: string, problem: string) => Error;

type Fields<T> = { [K in keyof T]: Check<T[K]> };

export function validators(fail: Failure) {
  /** A check for any predicate: "must be <expected>" when it does not hold. */
  function satisfies<T>(test: (value: unknown) => value is T, expected: string): Check<T> {
    return (value, path) => {
      if (!test(value)) throw fail(path, `must be ${expected}`);
      return value;
    };
  }

  const string = satisfies((v): v is string => typeof v === 'string' && v !== '', 'a non-empty string');
  /** A string that may be empty (an EHLO name, the null sender ''). */
  const anyString = satisfies((v): v is string => typeof v === 'string', 'a string');
  const boolean = satisfies((v): v is boolean => typeof v === 'boolean', 'true or false');

  /** Finite and >= min: a number of seconds (fractions allowed), or of bytes. */
  function number(min = 0): Check<number> {
    return satisfies((v): v is number => typeof v === 'number' && Number.isFinite(v) && v >= min, `a number >= ${min}`);
  }

  function integer(min: number, max = Number.MAX_SAFE_INTEGER): Check<number> {
    return satisfies((v): v is number => Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max,
      `a whole number from ${min} to ${max}`);
  }

  function oneOf<T extends string | number>(...choices: T[]): Check<T> {
    return satisfies((v): v is T => choices.includes(v as T), `one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`);
  }

  function list<T>(item: Check<T>, options: { nonEmpty?: boolean } = {}): Check<T[]> {
    return (value, path) => {
      if (!Array.isArray(value)) throw fail(path, 'must be a list');
      if (options.nonEmpty && value.length === 0) throw fail(path, 'must not be empty');
      return value.map((v, i) => item(v, `${path}[${i}]`));
    };
  }

  /** Absent (undefined or null) is allowed; anything else must pass `check`. */
  function optional<T>(check: Check<T>): Check<T | undefined> {
    return (value, path) => (value === undefined || value === null ? undefined : check(value, path));
  }

  /**
   * A closed object with defaults, for a config section: every key must be a
   * known one (so a typo is an error, not a silent default), and a missing key
   * keeps its default. Returns a new object.
   */
  function object<T extends object>(fields: Fields<T>, defaults: T): Check<T> {
    return (value, path) => {
      if (!isRecord(value)) throw fail(path || '(the whole file)', 'must be a JSON object');
      const result = { ...defaults };
      for (const [name, raw] of Object.entries(value)) {
        const check = (fields as Record<string, Check<unknown>>)[name];
        const at = path ? `${path}.${name}` : name;
        if (!check) throw fail(at, 'unknown key');
        (result as Record<string, unknown>)[name] = check(raw, at);
      }
      return result;
    };
  }

  /**
   * An open record, for stored data: the listed fields are checked where they
   * are, and fields this version does not know are kept, so a newer
   * version's additions survive. Returns the value itself.
   */
  function shape<T extends object>(fields: Partial<Fields<T>>): Check<T> {
    return (value, path) => {
      if (!isRecord(value)) throw fail(path, 'must be an object');
      for (const [name, check] of Object.entries(fields) as [string, Check<unknown>][]) check(value[name], `${path}.${name}`);
      return value as T;
    };
  }

  return { satisfies, string, anyString, boolean, number, integer, oneOf, list, optional, object, shape };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
