/**
 * Kafka faults against a private broker this file starts, stops and kills (never the shared one):
 * while the broker is away every answer is a 503 with Retry-After within the ack budget, no request
 * gets 200 unless its record is in the topic, and the ingress recovers on its own when the broker
 * returns — after a clean stop and after a SIGKILL.
 */
import type { Admin, Kafka } from 'kafkajs';
import { LocalRuntime, runtimeOptionsFromEnv } from '../../../deploy/local/runtime';
import { startTestIngress, type TestIngress } from '../../helpers/ingress';
import { LoadRun } from '../../helpers/ingress-load';
import {
  createTopics,
  headerString,
  pollUntil,
  TopicCollector,
  testConfig,
  testKafka,
  uniqueName,
} from '../../helpers/kafka';
import { delivery, notification, post } from '../../helpers/signed-payload';

const ACK_TIMEOUT_MS = 4000;
// Answers may take the whole ack budget, plus HTTP and event-loop time on a busy 2-core machine.
const ANSWER_BOUND_MS = ACK_TIMEOUT_MS + 1500;

jest.setTimeout(300_000);

describe('ingress under Kafka faults (private broker)', () => {
  const runtime = new LocalRuntime(
    runtimeOptionsFromEnv(process.env, {
      instance: 'ingress-faults',
      // Below the ephemeral port range (see E2E_PORTS in test/e2e/harness/pipeline.ts).
      kafkaPort: 30292,
      controllerPort: 30293,
      registryPort: 30281,
      registryManagementPort: 30290,
      log: () => undefined,
    }),
  );
  let kafka: Kafka;
  let admin: Admin;
  let ingress: TestIngress;
  const topic = uniqueName('faults-raw');

  beforeAll(async () => {
    await runtime.startKafka();
    kafka = testKafka(testConfig({ KAFKA_BROKERS: runtime.brokers }));
    admin = kafka.admin();
    await admin.connect();
    await createTopics(admin, [topic], 3);
    ingress = await startTestIngress(admin, {
      partitions: 3,
      env: {
        KAFKA_BROKERS: runtime.brokers,
        TOPIC_RAW: topic,
        INGRESS_ACK_TIMEOUT_MS: String(ACK_TIMEOUT_MS),
        INGRESS_REJECTED_RATE_PER_SEC: '0',
        INGRESS_REJECTED_BURST: '0',
      },
      createTopics: false,
    });
  });

  afterAll(async () => {
    await ingress?.stop();
    await admin?.disconnect().catch(() => undefined);
    await runtime.destroy();
  });

  const readyz = async () => (await fetch(`${ingress.running.url}/readyz`)).status;

  async function outage(stopBroker: () => Promise<void>): Promise<LoadRun> {
    const load = new LoadRun({ url: ingress.webhookUrl, concurrency: 8, minIntervalMs: 20, minBytes: 1024 });
    await pollUntil(() => load.count(200) >= 50, { description: '50 accepted before the fault' });
    await stopBroker();
    // Keep sending while the broker is away: the ingress must notice and answer 503.
    await pollUntil(async () => (await readyz()) === 503, { timeoutMs: 60_000, description: '/readyz 503' });
    const failuresAtDown = load.results.length;
    await pollUntil(() => load.results.length >= failuresAtDown + 40, {
      description: '40 answers while down',
    });
    const whileDown = load.results.slice(failuresAtDown);
    expect(whileDown.every((r) => r.status === 503)).toBe(true);

    await runtime.startKafka();
    await pollUntil(() => load.results.slice(-10).every((r) => r.status === 200) && load.results.length > 0, {
      timeoutMs: 90_000,
      description: 'the ingress to accept again after the broker returned',
    });
    await load.stop();
    expect(await readyz()).toBe(200);
    return load;
  }

  async function expectNoTwoHundredWithoutAWrite(load: LoadRun): Promise<void> {
    // Every answer is a 200 or a 503 with Retry-After, and within the ack budget.
    for (const r of load.results) {
      expect({ status: r.status, retryAfter: r.status === 503 ? r.retryAfter !== null : true }).toEqual({
        status: r.status === 200 ? 200 : 503,
        retryAfter: true,
      });
      expect(r.endedAt - r.startedAt).toBeLessThan(ANSWER_BOUND_MS);
    }
    const accepted = new Set(load.results.filter((r) => r.status === 200).map((r) => r.id));
    const slowest = Math.max(...load.results.map((r) => r.endedAt - r.startedAt));
    console.log(
      `${load.results.length} answers: ${accepted.size} × 200, ${load.count(503)} × 503; slowest ${slowest} ms`,
    );
    const collector = await new TopicCollector(kafka, [topic]).start();
    try {
      await pollUntil(
        () => {
          const seen = new Set(
            collector.records.map((r) => headerString(r.headers, 'nylas-notification-id')),
          );
          return [...accepted].every((id) => seen.has(id));
        },
        { timeoutMs: 60_000, description: `all ${accepted.size} accepted ids in the topic` },
      );
    } finally {
      await collector.stop();
    }
  }

  it('broker stopped: 503 + Retry-After within the ack budget, no 200 without a write, recovery on restart', async () => {
    const load = await outage(() => runtime.stopKafka());
    expect(load.count(503)).toBeGreaterThanOrEqual(40);
    await expectNoTwoHundredWithoutAWrite(load);
  });

  it('broker killed (SIGKILL) mid-load: same guarantees, and a fresh producer after the restart', async () => {
    const load = await outage(() => runtime.killKafka());
    await expectNoTwoHundredWithoutAWrite(load);
    // One more, checked end to end.
    const n = notification();
    expect((await post(ingress.webhookUrl, delivery(n))).status).toBe(200);
  });
});
