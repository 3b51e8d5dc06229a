/**
 * `up`'s status line counts records, not offsets: on a topic written in transactions (as the
 * processors write the domain topics and the DLQ) commit and abort markers take offsets and aborted
 * records are never read, so high - low over-counts. Real broker, real transactional producer.
 */
import { formatStatus, RecordCounter, readStatus } from '../../../cli/up/status';
import { loadTopicsConfig } from '../../../lib/config';
import { brokerFixture, pollUntil, transactionalProducer, uniqueName } from '../../helpers/kafka';

describe('RecordCounter (up status line)', () => {
  const broker = brokerFixture();

  it('counts the committed records of a transactional topic, not its offsets', async () => {
    const { kafka, admin } = broker;
    const topic = await broker.topic('status-txn', 3);
    const plain = await broker.topic('status-plain');
    const producer = await transactionalProducer(kafka, 'status-txn');
    // 7 transactions of one record per partition (21 records, 21 commit markers), then an aborted one.
    for (let n = 0; n < 7; n++) {
      const txn = await producer.transaction();
      await txn.send({
        topic,
        messages: [0, 1, 2].map((partition) => ({ key: `k${partition}`, value: `${n}`, partition })),
      });
      await txn.commit();
    }
    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: [{ key: 'k0', value: 'aborted', partition: 0 }] });
    await aborted.abort();
    await producer.disconnect();
    const plainProducer = kafka.producer();
    await plainProducer.connect();
    await plainProducer.send({ topic: plain, messages: [{ value: 'a' }, { value: 'b' }] });
    await plainProducer.disconnect();

    const offsets = (await admin.fetchTopicOffsets(topic)).reduce(
      (sum, p) => sum + Number(p.high) - Number(p.low),
      0,
    );
    expect(offsets).toBe(44); // what the status line used to say

    const counter = await RecordCounter.start(kafka, admin, [topic, plain]);
    try {
      await pollUntil(async () => counter.records(topic) >= 21 && counter.records(plain) >= 2, {
        timeoutMs: 30_000,
        intervalMs: 100,
        description: 'the counter to read both topics',
      });
      // Reaching the count is not the end of reading: let it read on, it must not go past.
      const more = kafka.producer();
      await more.connect();
      await more.send({ topic: plain, messages: [{ value: 'c' }] });
      await more.disconnect();
      await pollUntil(async () => counter.records(plain) >= 3, {
        timeoutMs: 30_000,
        intervalMs: 100,
        description: 'the counter to read a record produced later',
      });
      expect(counter.records(topic)).toBe(21);
      expect(counter.records(plain)).toBe(3);
      // And the line `up` prints (the transactional topic as a domain topic, the plain one as raw).
      const topics = loadTopicsConfig({ TOPIC_EMAIL_MESSAGES: topic, TOPIC_RAW: plain });
      const nowhere = 'http://127.0.0.1:9/metrics';
      const status = await readStatus(admin, counter, topics, uniqueName('no-group'), {
        ingressMetrics: nowhere,
        processorMetrics: nowhere,
      });
      expect(formatStatus(status)).toMatch(/^raw 3 \| domain 21 \| dlq 0 \| rejected 0 \| lag 3 \|/);
    } finally {
      await counter.stop();
    }
  });
});
