/**
 * Against the real broker: transactions made through lib/kafka.ts's client, with the adaptations applied
 * as the services apply them (test/helpers/kafka.ts), look their coordinators up once, not before every
 * request, and still commit (read_committed sees every record, offsets land).
 */
import { TRANSACTIONAL_RETRY } from '../../../../lib/kafka';
import { createTopics, pollUntil, testKafka, uniqueName } from '../../../helpers/kafka';

describe('kafkajs coordinator cache (real broker)', () => {
  it('runs 20 back-to-back consume-transform-produce transactions with a handful of coordinator lookups', async () => {
    const kafka = testKafka();
    const admin = kafka.admin();
    await admin.connect();
    const topic = uniqueName('coord-cache');
    const group = uniqueName('coord-cache-group');
    await createTopics(admin, [topic]);
    const producer = kafka.producer({
      transactionalId: uniqueName('coord-cache-tx'),
      idempotent: true,
      maxInFlightRequests: 1,
      retry: TRANSACTIONAL_RETRY,
    });
    const requests = new Map<string, number>();
    producer.on(producer.events.REQUEST, (e) => {
      const api = String(e.payload.apiName);
      requests.set(api, (requests.get(api) ?? 0) + 1);
    });
    await producer.connect();
    try {
      for (let i = 0; i < 20; i++) {
        const txn = await producer.transaction();
        await txn.send({ topic, acks: -1, messages: [{ key: 'k', value: `v${i}` }] });
        await txn.sendOffsets({
          consumerGroupId: group,
          topics: [{ topic, partitions: [{ partition: 0, offset: String(i + 1) }] }],
        });
        await txn.commit();
      }
      expect(requests.get('EndTxn')).toBe(20);
      expect(requests.get('TxnOffsetCommit')).toBe(20);
      // Without the cache: 5 lookups per transaction (100 here). With it, the transaction coordinator and
      // the group coordinator of the TxnOffsetCommits are each looked up once, plus once per
      // COORDINATOR_CACHE_MS the loop runs.
      expect(requests.get('GroupCoordinator') ?? 0).toBeLessThanOrEqual(8);
      // EndTxn answers once the commit is decided; the coordinator writes the markers to the topic and to
      // __consumer_offsets after that, and kafkajs's OffsetFetch (no require_stable) returns the last
      // stable offset until then. CI once read '19' here (stop 26), so wait for the markers, bounded.
      const landed = await pollUntil(
        async () => {
          const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
          const [end] = await admin.fetchTopicOffsets(topic);
          const seen = { offset: offsets?.partitions[0]?.offset, high: end?.high };
          return seen.offset === '20' && seen.high === '40' ? seen : false;
        },
        { timeoutMs: 10_000, description: "the 20th commit's markers (group offset 20, high watermark 40)" },
      );
      // 20 records + 20 commit markers.
      expect(landed).toEqual({ offset: '20', high: '40' });
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  });
});
