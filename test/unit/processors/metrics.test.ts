import { METRICS } from '../../../lib/metric-names';
import { createMetricsRegistry } from '../../../lib/metrics';
import { ProcessorMetrics } from '../../../processors/metrics';
import { DEAD_LETTER_REASONS } from '../../../processors/types';

describe('ProcessorMetrics', () => {
  it('exports a zero sample for every dead-letter reason before the first one happens', async () => {
    const registry = createMetricsRegistry({ service: 'processor', collectDefaults: false });
    const metrics = new ProcessorMetrics(registry);
    const before = await registry.getSingleMetric(METRICS.processorDeadLetters.name)?.get();
    const values = new Map(before?.values.map((v) => [v.labels.reason, v.value]));
    expect([...values.keys()].sort()).toEqual([...DEAD_LETTER_REASONS].sort());
    expect([...values.values()].every((v) => v === 0)).toBe(true);

    metrics.deadLetter('NYLAS_API_UNAUTHORIZED');
    const after = await registry.getSingleMetric(METRICS.processorDeadLetters.name)?.get();
    expect(after?.values.find((v) => v.labels.reason === 'NYLAS_API_UNAUTHORIZED')?.value).toBe(1);
  });

  it('gives the notifications handled since start, over every family and outcome', async () => {
    const metrics = new ProcessorMetrics(
      createMetricsRegistry({ service: 'processor', collectDefaults: false }),
    );
    expect(await metrics.handled()).toBe(0);
    metrics.roundOutcomes([
      { family: 'message', outcome: 'emitted' },
      { family: 'event', outcome: 'duplicate' },
    ]);
    metrics.notification('unknown', 'dead_lettered', 3);
    expect(await metrics.handled()).toBe(5);
  });

  it("counts a round's outcomes per family and outcome", async () => {
    const registry = createMetricsRegistry({ service: 'processor', collectDefaults: false });
    const metrics = new ProcessorMetrics(registry);
    metrics.roundOutcomes([
      { family: 'message', outcome: 'emitted' },
      { family: 'message', outcome: 'emitted' },
      { family: 'message', outcome: 'duplicate' },
      { family: 'event', outcome: 'emitted' },
      { family: 'unknown', outcome: 'dead_lettered' },
    ]);
    metrics.roundOutcomes([{ family: 'message', outcome: 'emitted' }]);
    const got = await registry.getSingleMetric(METRICS.processorNotifications.name)?.get();
    const byLabels = Object.fromEntries(
      (got?.values ?? []).map((v) => [`${v.labels.family}/${v.labels.outcome}`, v.value]),
    );
    expect(byLabels).toEqual({
      'message/emitted': 3,
      'message/duplicate': 1,
      'event/emitted': 1,
      'unknown/dead_lettered': 1,
    });
  });
});
