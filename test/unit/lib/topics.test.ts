import { INGRESS_DEFAULTS } from '../../../ingress/config';
import { loadTopicsConfig } from '../../../lib/config';
import { domainTopicNames, MAX_RECORD_BYTES, topicPlan } from '../../../lib/topics';

describe('topicPlan', () => {
  const topics = loadTopicsConfig({});
  const plan = topicPlan(topics);
  const byName = new Map(plan.map((s) => [s.name, s]));

  it('lets every record the ingress accepts, and every expanded message, into Kafka', () => {
    // A body the ingress accepts but the broker refuses would be answered 503 three times and lost.
    expect(MAX_RECORD_BYTES).toBeGreaterThan(INGRESS_DEFAULTS.maxBodyBytes + 64 * 1024);
    for (const name of [topics.raw, topics.dlq, ...domainTopicNames(topics)]) {
      expect({ name, max: Number(byName.get(name)?.configs['max.message.bytes']) }).toEqual({
        name,
        max: MAX_RECORD_BYTES,
      });
    }
  });

  it('co-partitions the raw, DLQ, state and domain topics and compacts only the state', () => {
    for (const name of [topics.raw, topics.dlq, topics.state, ...domainTopicNames(topics)]) {
      expect(byName.get(name)?.partitions).toBe(topics.partitions);
    }
    expect(byName.get(topics.state)?.configs['cleanup.policy']).toBe('compact');
    expect(plan.filter((s) => s.configs['cleanup.policy'] === 'compact').map((s) => s.name)).toEqual([
      topics.state,
    ]);
  });
});
