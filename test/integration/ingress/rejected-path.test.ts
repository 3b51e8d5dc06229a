/**
 * Rejected records on their own path (issue 13, item 5), against the real broker: the rejected topic
 * does not exist, valid and invalid deliveries arrive together (a long linger puts them in the same
 * batch window), and every valid one still gets 200 and reaches the raw topic. The failed rejected
 * writes are counted (`recorded="failed"`) and cost nothing else.
 */
import type { Admin, Kafka } from 'kafkajs';
import { startTestIngress, type TestIngress } from '../../helpers/ingress';
import { createTopics, pollUntil, TopicCollector, testKafka, uniqueName } from '../../helpers/kafka';
import { delivery, notification, post } from '../../helpers/signed-payload';

describe('ingress: rejected records on their own path (real broker)', () => {
  let kafka: Kafka;
  let admin: Admin;
  let ingress: TestIngress;
  let raw: TopicCollector;

  beforeAll(async () => {
    kafka = testKafka();
    admin = kafka.admin();
    await admin.connect();
    const rawTopic = uniqueName('raw');
    await createTopics(admin, [rawTopic], 3);
    ingress = await startTestIngress(admin, {
      createTopics: false,
      env: {
        TOPIC_RAW: rawTopic,
        // Never created: every write to it is refused by the broker.
        TOPIC_REJECTED: uniqueName('rejected-missing'),
        INGRESS_BATCH_LINGER_MS: '50',
        INGRESS_ACK_TIMEOUT_MS: '6000',
        INGRESS_REJECTED_RATE_PER_SEC: '1000',
        INGRESS_REJECTED_BURST: '1000',
      },
    });
    raw = await new TopicCollector(kafka, [rawTopic]).start();
  });

  afterAll(async () => {
    await raw?.stop();
    await ingress?.stop();
    await admin?.disconnect();
  });

  it('answers valid deliveries 200 and writes them while rejected records cannot be written', async () => {
    const valid = Array.from({ length: 20 }, () => delivery(notification()));
    const invalid = Array.from({ length: 20 }, () => delivery(notification(), { secret: 'not-the-secret' }));
    const answers = await Promise.all(
      valid.flatMap((v, i) => [post(ingress.webhookUrl, v), post(ingress.webhookUrl, invalid[i]!)]),
    );
    const validStatuses = answers.filter((_, i) => i % 2 === 0).map((a) => a.status);
    const invalidStatuses = answers.filter((_, i) => i % 2 === 1).map((a) => a.status);
    expect(validStatuses).toEqual(valid.map(() => 200));
    expect(invalidStatuses).toEqual(invalid.map(() => 401));

    const records = await raw.waitFor(valid.length);
    const written = new Set(records.map((r) => r.value?.toString()));
    for (const v of valid) expect(written.has(v.body.toString())).toBe(true);

    // The failures are counted where an operator finds them.
    const failed = await pollUntil(
      async () => {
        const metric = await ingress.running.metrics.rejected.get();
        const n = metric.values
          .filter((v) => v.labels.recorded === 'failed')
          .reduce((sum, v) => sum + v.value, 0);
        return n >= invalid.length ? n : undefined;
      },
      { timeoutMs: 60_000, description: 'every failed rejected write counted' },
    );
    expect(failed).toBe(invalid.length);
  });
});
