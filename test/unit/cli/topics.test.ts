/**
 * `topics create`: how an existing topic is compared with the plan, and what gets printed.
 */

import { topicsReport } from '../../../cli/ops/topics-report';
import { loadTopicsConfig } from '../../../lib/config';
import {
  type ActualTopic,
  coPartitioningWarnings,
  type EnsureTopicsResult,
  topicDifferences,
  topicPlan,
} from '../../../lib/topics';

const plan = topicPlan(loadTopicsConfig({ TOPIC_PARTITIONS: '12' }));
const spec = (name: string) => plan.find((s) => s.name === name)!;
const asPlanned = (name: string): ActualTopic => {
  const s = spec(name);
  return {
    name,
    partitions: s.partitions,
    replicationFactor: s.replicationFactor,
    configs: { 'cleanup.policy': s.configs['cleanup.policy'] ?? 'delete', ...s.configs },
  };
};

describe('topicDifferences', () => {
  it('finds nothing when the topic is as planned', () => {
    for (const s of plan) expect(topicDifferences(s, asPlanned(s.name))).toEqual([]);
  });

  it('reports partitions, replication, retention and compaction', () => {
    const raw = { ...asPlanned('nylas.webhooks.raw'), partitions: 6, replicationFactor: 3 };
    raw.configs = { ...raw.configs, 'retention.ms': '86400000', 'cleanup.policy': 'compact' };
    const d = topicDifferences(spec('nylas.webhooks.raw'), raw);
    expect(d.map((x) => [x.setting, x.expected, x.actual])).toEqual([
      ['partitions', '12', '6'],
      ['replication', '1', '3'],
      ['retention.ms', '604800000', '86400000'],
      ['cleanup.policy', 'delete', 'compact'],
    ]);
    expect(d[0]?.message).toMatch(/nylas.webhooks.raw has 6 partitions, config says 12.*co-partitioned/);
    expect(d[2]?.message).toContain('--add-config retention.ms=604800000');
  });

  it('a state topic that is not compacted is a difference', () => {
    const state = asPlanned('nylas-stream-processor.state');
    state.configs['cleanup.policy'] = 'delete';
    expect(topicDifferences(spec('nylas-stream-processor.state'), state)).toEqual([
      expect.objectContaining({ setting: 'cleanup.policy', expected: 'compact', actual: 'delete' }),
    ]);
  });
});

describe('coPartitioningWarnings', () => {
  it('warns when raw and domain topics disagree, ignoring the single-partition rejected topic', () => {
    const counts = new Map(plan.map((s) => [s.name, s.partitions]));
    expect(coPartitioningWarnings(plan, counts)).toEqual([]);
    counts.set('nylas.email.messages', 6);
    const [w] = coPartitioningWarnings(plan, counts);
    expect(w).toMatch(/different partition counts \(12: nylas\.webhooks\.raw.*; 6: nylas\.email\.messages\)/);
    expect(w).not.toContain('nylas.webhooks.rejected');
  });
});

describe('topicsReport', () => {
  it('prints one line per topic and the warnings', () => {
    const result: EnsureTopicsResult = {
      created: plan.slice(1).map((s) => s.name),
      existing: ['nylas.webhooks.raw'],
      differences: [
        { topic: 'nylas.webhooks.raw', setting: 'partitions', expected: '12', actual: '6', message: 'm' },
      ],
      warnings: ['m'],
    };
    const r = topicsReport(plan, result);
    expect(r.lines[0]).toMatch(/^\s+topic\s+partitions\s+replication\s+configs$/);
    expect(r.lines[1]).toMatch(
      /^differs\s+nylas\.webhooks\.raw\s+12\s+1\s+retention\.ms=604800000 max\.message\.bytes=16777216$/,
    );
    expect(r.lines.filter((l) => l.startsWith('created'))).toHaveLength(plan.length - 1);
    expect(r.lines.at(-1)).toBe(`${plan.length - 1} created, 1 already present, 1 warning(s)`);
    expect(r.warnings).toEqual(['warning: m']);
  });
});
