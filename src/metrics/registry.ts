// A small metrics registry: counters, gauges and histograms with labels,
// rendered in the Prometheus text exposition format, version 0.0.4 (the
// metrics minimta exports are listed in README, "Operating minimta").
// Pure: no sockets, no timers.

export type Labels = Record<string, string>;

/** The Content-Type of a scrape answer in this format. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

interface Family {
  render(): Promise<string[]>;
}

/** One series per distinct label set; the key is the rendered label set. */
class Series<T> {
  private readonly byKey = new Map<string, { labels: Labels; value: T }>();

  constructor(private readonly labelNames: readonly string[], private readonly initial: () => T) {}

  at(labels: Labels): T {
    const key = labelText(this.checked(labels));
    let entry = this.byKey.get(key);
    if (!entry) {
      entry = { labels: { ...labels }, value: this.initial() };
      this.byKey.set(key, entry);
    }
    return entry.value;
  }

  set(labels: Labels, value: T): void {
    this.byKey.set(labelText(this.checked(labels)), { labels: { ...labels }, value });
  }

  entries(): Array<{ labels: Labels; value: T }> {
    return [...this.byKey.values()];
  }

  /** Exactly the declared label names: a typo would otherwise start a new series silently. */
  private checked(labels: Labels): Labels {
    const given = Object.keys(labels).sort();
    const declared = [...this.labelNames].sort();
    if (given.join(',') !== declared.join(',')) {
      throw new Error(`labels {${given.join(',')}} given where {${declared.join(',')}} are declared`);
    }
    return labels;
  }
}

export class Counter implements Family {
  private readonly series: Series<{ n: number }>;

  constructor(readonly name: string, readonly help: string, labelNames: readonly string[] = []) {
    this.series = new Series(labelNames, () => ({ n: 0 }));
    // An unlabelled counter is shown at 0 from the start: a scrape tells "none yet" from "absent".
    if (labelNames.length === 0) this.series.at({});
  }

  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new Error(`${this.name}: a counter only goes up (given ${by})`);
    this.series.at(labels).n += by;
  }

  value(labels: Labels = {}): number {
    return this.series.at(labels).n;
  }

  async render(): Promise<string[]> {
    return [...header(this.name, this.help, 'counter'), ...this.series.entries().map(({ labels, value }) => sample(this.name, labels, value.n))];
  }
}

export type GaugeSample = { labels?: Labels; value: number };
export type GaugeCollect = () => Promise<GaugeSample[]> | GaugeSample[];

/** A gauge whose samples are read at scrape time (a queue's size, open connections). */
export class Gauge implements Family {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly collect: GaugeCollect,
  ) {}

  async render(): Promise<string[]> {
    const samples = await this.collect();
    return [...header(this.name, this.help, 'gauge'), ...samples.map(({ labels, value }) => sample(this.name, labels ?? {}, value))];
  }
}

export class Histogram implements Family {
  private readonly series: Series<{ counts: number[]; sum: number; count: number }>;
  readonly buckets: readonly number[];

  constructor(readonly name: string, readonly help: string, buckets: readonly number[], labelNames: readonly string[] = []) {
    if (buckets.length === 0 || buckets.some((b, i) => i > 0 && b <= buckets[i - 1]!)) {
      throw new Error(`${name}: buckets must be given in increasing order`);
    }
    this.buckets = buckets.filter((b) => b !== Infinity);
    this.series = new Series(labelNames, () => ({ counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    if (labelNames.length === 0) this.series.at({});
  }

  observe(value: number, labels: Labels = {}): void {
    const entry = this.series.at(labels);
    // Stored per bucket; rendered cumulatively, as the format requires.
    const index = this.buckets.findIndex((upper) => value <= upper);
    if (index !== -1) entry.counts[index]!++;
    entry.sum += value;
    entry.count++;
  }

  async render(): Promise<string[]> {
    const lines = header(this.name, this.help, 'histogram');
    for (const { labels, value } of this.series.entries()) {
      let cumulative = 0;
      this.buckets.forEach((upper, i) => {
        cumulative += value.counts[i]!;
        lines.push(sample(`${this.name}_bucket`, { ...labels, le: formatNumber(upper) }, cumulative));
      });
      lines.push(sample(`${this.name}_bucket`, { ...labels, le: '+Inf' }, value.count));
      lines.push(sample(`${this.name}_sum`, labels, value.sum));
      lines.push(sample(`${this.name}_count`, labels, value.count));
    }
    return lines;
  }
}

export class MetricsRegistry {
  private readonly families = new Map<string, Family>();

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(name, labelNames, new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, collect: GaugeCollect): Gauge {
    return this.add(name, [], new Gauge(name, help, collect));
  }

  histogram(name: string, help: string, buckets: readonly number[], labelNames: readonly string[] = []): Histogram {
    return this.add(name, labelNames, new Histogram(name, help, buckets, labelNames));
  }

  /** The whole exposition: every family, one after the other, ending in a newline. */
  async render(): Promise<string> {
    const lines: string[] = [];
    for (const family of this.families.values()) lines.push(...(await family.render()));
    return `${lines.join('\n')}\n`;
  }

  private add<F extends Family>(name: string, labelNames: readonly string[], family: F): F {
    if (!METRIC_NAME.test(name)) throw new Error(`not a metric name: ${JSON.stringify(name)}`);
    for (const label of labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith('__') || label === 'le') throw new Error(`${name}: not a label name: ${JSON.stringify(label)}`);
    }
    if (this.families.has(name)) throw new Error(`metric ${name} is registered twice`);
    this.families.set(name, family);
    return family;
  }
}

function header(name: string, help: string, type: string): string[] {
  // In HELP text only backslash and newline are escaped.
  return [`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`];
}

function sample(name: string, labels: Labels, value: number): string {
  return `${name}${labelText(labels)} ${formatNumber(value)}`;
}

function labelText(labels: Labels): string {
  const names = Object.keys(labels).sort();
  if (names.length === 0) return '';
  // In label values backslash, double quote and newline are escaped.
  const escape = (value: string) => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  return `{${names.map((name) => `${name}="${escape(labels[name]!)}"`).join(',')}}`;
}

/** Go's ParseFloat reads these: +Inf, -Inf, NaN, and plain decimals. */
export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
