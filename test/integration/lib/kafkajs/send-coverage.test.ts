/**
 * Against the real broker: a send through kafkajs with KeyHashPartitioner (as the ingress and the
 * processor produce) has every message's partition remembered, so checkedSendBatch can tell an answer
 * that lists every partition from one that leaves a partition out (what kafkajs returns when a leader
 * moves during a send to a broker that already answered: lib/kafkajs/send-coverage.ts). The leader move
 * itself is exercised on three brokers by test/e2e/failover.test.ts.
 */
import type { Producer, RecordMetadata, TopicMessages } from 'kafkajs';
import { ErrorCodes } from '../../../../lib/errors';
import { KeyHashPartitioner } from '../../../../lib/kafkajs/partitioner';
import { checkedSendBatch } from '../../../../lib/kafkajs/send-coverage';
import { createTopics, testKafka, uniqueName } from '../../../helpers/kafka';

describe('checked sends (real broker)', () => {
  const kafka = testKafka();
  const topic = uniqueName('send-coverage');
  let producer: Producer;

  beforeAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await createTopics(admin, [topic], 6);
    await admin.disconnect();
    producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: KeyHashPartitioner,
    });
    await producer.connect();
  });
  afterAll(() => producer.disconnect());

  const batch = (): { topicMessages: TopicMessages[]; acks: number } => ({
    acks: -1,
    topicMessages: [
      { topic, messages: Array.from({ length: 60 }, (_, i) => ({ key: `grant-${i}`, value: 'v' })) },
    ],
  });

  it('passes an answer that lists every partition written', async () => {
    const answer = await checkedSendBatch(producer, batch());
    expect(new Set(answer.map((r) => r.partition)).size).toBe(6);
  });

  it('fails, retriably, an answer that leaves a partition out', async () => {
    // The real send, its answer then missing one partition's entry, as kafkajs's skipped retry returns it.
    const forgetful = {
      sendBatch: async (b: Parameters<Producer['sendBatch']>[0]): Promise<RecordMetadata[]> =>
        (await producer.sendBatch(b)).filter((r) => r.partition !== 3),
    };
    await expect(checkedSendBatch(forgetful, batch())).rejects.toMatchObject({
      code: ErrorCodes.KAFKA_UNAVAILABLE,
      message: expect.stringContaining(`${topic}:3`),
    });
  });
});
