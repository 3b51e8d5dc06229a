import { INGRESS_DEFAULTS } from '../../../ingress/config';
import { loadTopicsConfig } from '../../../lib/config';
import {
  DLQ_HEADER_ALLOWANCE_BYTES,
  domainTopicNames,
  MAX_RECORD_BYTES,
  SMALL_RECORD_TOPIC_BYTES,
  topicPlan,
} from '../../../lib/topics';
import { MAX_BUCKET_BYTES } from '../../../processors/state/changelog';

describe('topicPlan', () => {
  const topics = loadTopicsConfig({});
  const plan = topicPlan(topics);
  const byName = new Map(plan.map((s) => [s.name, s]));

  it('lets every record the ingress accepts, and every expanded message, into Kafka', () => {
    // A body the ingress accepts but the broker refuses would be answered 503 three times and lost.
    expect(MAX_RECORD_BYTES).toBeGreaterThan(INGRESS_DEFAULTS.maxBodyBytes + 64 * 1024);
    for (const name of [topics.raw, ...domainTopicNames(topics)]) {
      expect({ name, max: Number(byName.get(name)?.configs['max.message.bytes']) }).toEqual({
        name,
        max: MAX_RECORD_BYTES,
      });
    }
  });

  it('sets max.message.bytes explicitly on every topic, from TOPIC_MAX_MESSAGE_BYTES where the processor reads it', () => {
    for (const spec of plan) expect(spec.configs['max.message.bytes']).toMatch(/^\d+$/);
    const custom = loadTopicsConfig({ TOPIC_MAX_MESSAGE_BYTES: '8388608' });
    const customPlan = new Map(
      topicPlan(custom).map((s) => [s.name, Number(s.configs['max.message.bytes'])]),
    );
    for (const name of [custom.raw, ...domainTopicNames(custom)])
      expect(customPlan.get(name)).toBe(8_388_608);
    // A dead letter is the largest raw record plus the dlq-* headers.
    expect(customPlan.get(custom.dlq)).toBe(8_388_608 + DLQ_HEADER_ALLOWANCE_BYTES);
    expect(customPlan.get(custom.state)).toBe(SMALL_RECORD_TOPIC_BYTES);
    expect(SMALL_RECORD_TOPIC_BYTES).toBeGreaterThan(2 * MAX_BUCKET_BYTES);
  });

  it('co-partitions the raw, DLQ, state, backfill, known-objects and domain topics and compacts only our own records', () => {
    const own = [topics.state, topics.backfill, topics.knownObjects];
    for (const name of [topics.raw, topics.dlq, ...own, ...domainTopicNames(topics)]) {
      expect(byName.get(name)?.partitions).toBe(topics.partitions);
    }
    expect(byName.get(topics.state)?.configs['cleanup.policy']).toBe('compact');
    // The backfill topic holds one state per grant for as long as the grant exists, the known-objects
    // topic one record per existing contact, calendar and folder: compacted too.
    expect(plan.filter((s) => s.configs['cleanup.policy'] === 'compact').map((s) => s.name)).toEqual(own);
  });
});
