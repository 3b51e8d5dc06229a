/**
 * Every kafkajs adaptation is active on the kafkajs version package.json pins: this file fails when an
 * upgrade (or a native binding that does not load here) switches one off. The stand-ins below show that
 * the check can say no, with a reason, and that start-up reports what it finds.
 */
import { Registry } from 'prom-client';
import { type AdaptationStatus, installOnce } from '../../../../lib/kafkajs/adaptation';
import { installCoordinatorCache } from '../../../../lib/kafkajs/coordinator-cache';
import { installEncoderBuffers } from '../../../../lib/kafkajs/encoder-buffers';
import { applyKafkajsAdaptations, installKafkajsAdaptations } from '../../../../lib/kafkajs/index';
import { installNativeCrc32c } from '../../../../lib/kafkajs/native-crc32c';
import { installKeyHashPartitioner } from '../../../../lib/kafkajs/partitioner';
import { installProduceEncoder } from '../../../../lib/kafkajs/produce-encoder';
import { installReadCommitted } from '../../../../lib/kafkajs/read-committed';
import { PINNED_KAFKAJS_VERSION } from '../../../../lib/kafkajs/version';
import { createLogger } from '../../../../lib/logger';
import { METRICS } from '../../../../lib/metric-names';
import { captureLog } from '../../../helpers/log-capture';

const ALL = [
  'coordinator-cache',
  'encoder-buffers',
  'produce-encoder',
  'native-crc32c',
  'key-hash-partitioner',
  'read-committed',
  'send-retry',
  'idle-request-queue',
];

function clusterLookup(): unknown {
  const Cluster: unknown = require('kafkajs/src/cluster');
  return typeof Cluster === 'function'
    ? Reflect.get(Cluster.prototype, 'findGroupCoordinatorMetadata')
    : undefined;
}

async function gaugeValues(registry: Registry): Promise<Record<string, number>> {
  const metric = registry.getSingleMetric(METRICS.kafkajsAdaptationActive.name);
  const values = metric ? (await metric.get()).values : [];
  return Object.fromEntries(values.map((v) => [String(v.labels.adaptation), v.value]));
}

describe('kafkajs adaptations on the pinned kafkajs', () => {
  it('are all active', () => {
    const statuses = installKafkajsAdaptations();
    expect(statuses.map((s) => s.name)).toEqual(ALL);
    // Whole statuses, so a failure shows the reason.
    expect(statuses).toEqual(ALL.map((name) => ({ name, active: true })));
  });

  it('install once: a second install keeps the first patch and answers the same', () => {
    const first = installKafkajsAdaptations();
    const lookup = clusterLookup();
    expect(installKafkajsAdaptations()).toEqual(first);
    expect(clusterLookup()).toBe(lookup);
  });

  it('are logged and exported as nylas_stream_kafkajs_adaptation_active at start-up, twice harmlessly', async () => {
    const out = captureLog();
    const log = createLogger({ name: 'test', level: 'info', destination: out.stream });
    const registry = new Registry();
    applyKafkajsAdaptations(log, registry);
    applyKafkajsAdaptations(log, registry);
    expect(await gaugeValues(registry)).toEqual(Object.fromEntries(ALL.map((name) => [name, 1])));
    const lines = out.lines().filter((l) => l.component === 'kafkajs');
    expect(lines.map((l) => [l.level, l.adaptation])).toEqual([...ALL, ...ALL].map((name) => ['info', name]));
  });
});

describe('kafkajs adaptations that cannot apply', () => {
  it('are inactive with a reason when kafkajs is another version', () => {
    const other = { kafkajsVersion: '2.3.0' };
    const reason = `kafkajs 2.3.0 is not the pinned ${PINNED_KAFKAJS_VERSION}`;
    expect([
      installCoordinatorCache(other),
      installEncoderBuffers(other),
      installProduceEncoder(other),
      installKeyHashPartitioner(other),
      installReadCommitted(other),
    ]).toEqual(
      [
        'coordinator-cache',
        'encoder-buffers',
        'produce-encoder',
        'key-hash-partitioner',
        'read-committed',
      ].map((name) => ({
        name,
        active: false,
        reason,
      })),
    );
  });

  it('are inactive with a reason when the kafkajs internal lacks what they replace', () => {
    const coordinator = installCoordinatorCache({ clusterPrototype: { findCoordinator() {} } });
    const encoder = installEncoderBuffers({ encoder: class {} });
    const produce = installProduceEncoder({ v3Module: { exports: {} } });
    const readCommitted = installReadCommitted({ brokerPrototype: { produce() {} } });
    for (const s of [coordinator, encoder, produce, readCommitted]) expect(s.active).toBe(false);
    expect(readCommitted.reason).toContain('fetch()');
    expect(coordinator.reason).toContain('findGroupCoordinatorMetadata');
    expect(encoder.reason).toContain('ensureAvailable');
    expect(produce.reason).toContain('request factory');
  });

  it('keeps the partitioner off when murmur2 no longer picks kafkajs’s partitions', () => {
    expect(installKeyHashPartitioner({ murmur2: () => 0 })).toEqual({
      name: 'key-hash-partitioner',
      active: false,
      reason: "installing failed: murmur2 picks other partitions than kafkajs's DefaultPartitioner",
    });
  });

  it('are inactive with a reason when the internal cannot be loaded, and patch nothing', () => {
    const apply = jest.fn();
    const status = installOnce({
      name: 'encoder-buffers',
      kafkajsVersion: undefined,
      load: () => require('kafkajs/src/protocol/no-such-module'),
      check: (t: unknown): t is object => typeof t === 'object',
      refused: 'not used',
      apply,
    });
    expect(status.active).toBe(false);
    expect(status.reason).toMatch(/^cannot load the kafkajs internal: Cannot find module/);
    expect(apply).not.toHaveBeenCalled();
  });

  it('reports the JavaScript CRC-32C as the native one being inactive', () => {
    const js = { crc32c: () => 0, native: false, reason: '@node-rs/crc32 did not load: no binding' };
    expect(installNativeCrc32c(js)).toEqual({
      name: 'native-crc32c',
      active: false,
      reason: '@node-rs/crc32 did not load: no binding',
    });
  });

  it('start-up warns about an inactive one and exports it as 0', async () => {
    const out = captureLog();
    const log = createLogger({ name: 'test', level: 'info', destination: out.stream });
    const registry = new Registry();
    const statuses: AdaptationStatus[] = [
      { name: 'coordinator-cache', active: true },
      { name: 'produce-encoder', active: false, reason: 'kafkajs 2.3.0 is not the pinned 2.2.4' },
    ];
    applyKafkajsAdaptations(log, registry, () => statuses);
    expect(await gaugeValues(registry)).toEqual({ 'coordinator-cache': 1, 'produce-encoder': 0 });
    expect(out.lines().map((l) => [l.level, l.adaptation, l.reason])).toEqual([
      ['info', 'coordinator-cache', undefined],
      ['warn', 'produce-encoder', 'kafkajs 2.3.0 is not the pinned 2.2.4'],
    ]);
  });
});
