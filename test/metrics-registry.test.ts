import { expect } from 'chai';
import { MetricsRegistry, formatNumber } from '../src/metrics/registry.js';

describe('metrics registry (Prometheus text format 0.0.4)', () => {
  it('renders counters with HELP, TYPE and sorted, escaped labels', async () => {
    const registry = new MetricsRegistry();
    const plain = registry.counter('t_plain_total', 'A counter.\nSecond line \\ here.');
    const refused = registry.counter('t_refused_total', 'Refused.', ['reason', 'listener']);
    plain.inc();
    plain.inc({}, 2);
    refused.inc({ reason: 'say "no"\n', listener: 'a\\b' });
    expect(await registry.render()).to.equal([
      '# HELP t_plain_total A counter.\\nSecond line \\\\ here.',
      '# TYPE t_plain_total counter',
      't_plain_total 3',
      '# HELP t_refused_total Refused.',
      '# TYPE t_refused_total counter',
      't_refused_total{listener="a\\\\b",reason="say \\"no\\"\\n"} 1',
      '',
    ].join('\n'));
  });

  it('shows an unlabelled counter at 0 before anything happened', async () => {
    const registry = new MetricsRegistry();
    registry.counter('t_total', 'T.');
    expect(await registry.render()).to.include('\nt_total 0\n');
  });

  it('refuses a counter going down, wrong label names, bad names and duplicates', () => {
    const registry = new MetricsRegistry();
    const counter = registry.counter('t_total', 'T.', ['kind']);
    expect(() => counter.inc({ kind: 'a' }, -1)).to.throw(/only goes up/);
    expect(() => counter.inc({ knid: 'a' })).to.throw(/declared/);
    expect(() => registry.counter('t_total', 'again')).to.throw(/twice/);
    expect(() => registry.counter('1bad', 'B.')).to.throw(/not a metric name/);
    expect(() => registry.counter('t2_total', 'B.', ['le'])).to.throw(/not a label name/);
  });

  it('reads gauges at scrape time, from async sources too', async () => {
    const registry = new MetricsRegistry();
    let open = 1;
    registry.gauge('t_open', 'Open.', () => [{ value: open }]);
    registry.gauge('t_queue', 'Queue.', async () => [{ labels: { state: 'held' }, value: 2 }]);
    open = 5;
    const text = await registry.render();
    expect(text).to.include('# TYPE t_open gauge\nt_open 5\n');
    expect(text).to.include('t_queue{state="held"} 2\n');
  });

  it('renders histograms cumulatively, with +Inf, _sum and _count', async () => {
    const registry = new MetricsRegistry();
    const latency = registry.histogram('t_seconds', 'Latency.', [0.5, 1, 10]);
    for (const value of [0.2, 0.5, 0.7, 4, 60]) latency.observe(value);
    expect(await registry.render()).to.equal([
      '# HELP t_seconds Latency.',
      '# TYPE t_seconds histogram',
      't_seconds_bucket{le="0.5"} 2',
      't_seconds_bucket{le="1"} 3',
      't_seconds_bucket{le="10"} 4',
      't_seconds_bucket{le="+Inf"} 5',
      't_seconds_sum 65.4',
      't_seconds_count 5',
      '',
    ].join('\n'));
  });

  it('refuses buckets out of order', () => {
    expect(() => new MetricsRegistry().histogram('t_seconds', 'L.', [1, 1])).to.throw(/increasing/);
  });

  it('formats special values as Go reads them', () => {
    expect([Infinity, -Infinity, NaN, 1.5, 0].map(formatNumber)).to.deep.equal(['+Inf', '-Inf', 'NaN', '1.5', '0']);
  });
});
