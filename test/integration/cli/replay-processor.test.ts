/**
 * `replay` of the processor group with the real processor and its real state store: after a replay to
 * the earliest offset the processor's dedupe suppresses what it already emitted; with --reset-state
 * the same notifications are emitted again (the warning's "downstream consumers will see them again").
 */
import type { Admin, Kafka } from 'kafkajs';
import { type CommonConfig, loadCommonConfig } from '../../../lib/config';
import { silentLogger } from '../../../lib/logger';
import { readToEnd } from '../../../lib/read-to-end';
import { ensureTopics, topicPlan } from '../../../lib/topics';
import { loadProcessorConfig, type RunningProcessor, startProcessor } from '../../../processors/index';
import { createMockNotifications } from '../../../simulator/index';
import { runCli } from '../../helpers/cli';
import { pollUntil, TopicCollector, testKafka, uniqueName } from '../../helpers/kafka';
import { uniqueTopicEnv } from '../../helpers/topic-env';

describe('replay of the processor group', () => {
  const env = { ...uniqueTopicEnv('replay-proc', 2), PROCESSOR_GROUP_ID: uniqueName('replay-proc-group') };
  let config: CommonConfig;
  let kafka: Kafka;
  let admin: Admin;
  let processor: RunningProcessor | undefined;
  let events: TopicCollector;

  const start = async () => {
    processor = await startProcessor(
      loadProcessorConfig({
        ...process.env,
        ...env,
        LOG_LEVEL: 'silent',
        NYLAS_API_KEY: 'unused',
        PROCESSOR_METRICS_PORT: '0',
      }),
      { http: false, logger: silentLogger() },
    );
  };
  const stop = async () => {
    await processor?.stop();
    processor = undefined;
    await pollUntil(
      async () =>
        ((await admin.describeGroups([env.PROCESSOR_GROUP_ID])).groups[0]?.members.length ?? 0) === 0,
      {
        description: 'the processor group to be empty',
      },
    );
  };

  /** The processor's committed offsets are back at the end of the raw topic. */
  const caughtUp = () =>
    pollUntil(
      async () => {
        const [t] = await admin.fetchOffsets({
          groupId: env.PROCESSOR_GROUP_ID,
          topics: [config.topics.raw],
        });
        const ends = await admin.fetchTopicOffsets(config.topics.raw);
        return ends.every((e) => t?.partitions.find((p) => p.partition === e.partition)?.offset === e.high);
      },
      { description: 'the processor to re-read the raw topic' },
    );
  const domainEvents = async () =>
    (await readToEnd(kafka, admin, { topic: config.topics.emailMessages }, () => undefined)).records;

  beforeAll(async () => {
    config = loadCommonConfig({ ...process.env, ...env, LOG_LEVEL: 'silent' });
    kafka = testKafka(config);
    admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, topicPlan(config.topics));
    events = await new TopicCollector(kafka, [config.topics.emailMessages]).start();
  });
  afterAll(async () => {
    await processor?.stop();
    await events.stop();
    await admin.deleteTopics({ topics: topicPlan(config.topics).map((s) => s.name) }).catch(() => undefined);
    await admin.disconnect();
  });

  it('without --reset-state nothing is emitted twice; with it the replayed notifications are emitted again', async () => {
    const mock = createMockNotifications('app-replay');
    const notifications = [mock('message.created'), mock('message.created'), mock('message.created')];
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    await producer.send({
      topic: config.topics.raw,
      acks: -1,
      messages: notifications.map((n) => ({
        key: String((n.data.object as Record<string, unknown>).grant_id),
        value: JSON.stringify(n),
        headers: {
          'content-type': 'application/json',
          'nylas-notification-id': n.id,
          'nylas-type': n.type,
          'received-at': String(Date.now()),
        },
      })),
    });
    await producer.disconnect();

    await start();
    await events.waitFor(3);
    await stop();

    const plain = await runCli(
      ['replay', '--group', env.PROCESSOR_GROUP_ID, '--to-earliest', '--execute'],
      env,
    );
    expect(plain.exitCode).toBe(0);
    expect(plain.stdout).toContain('total: 3 record(s) to reprocess');
    expect(plain.stderr).toContain('Add --reset-state to emit them again');
    await start();
    await caughtUp();
    await stop();
    // Everything committed to the domain topic so far, read to its end: still the first three.
    expect(await domainEvents()).toBe(3);

    const reset = await runCli(
      ['replay', '--group', env.PROCESSOR_GROUP_ID, '--to-earliest', '--reset-state', '--execute'],
      env,
    );
    expect(reset.exitCode).toBe(0);
    expect(reset.stderr).toContain('downstream consumers will see those events a second time');
    expect(reset.stdout).toMatch(/state: wrote [1-9]\d* tombstone\(s\)/);
    await start();
    const all = await events.waitFor(6);
    expect(all).toHaveLength(6);
    const ids = (from: number, to: number) =>
      all
        .slice(from, to)
        .map((r) => r.value?.toString('base64'))
        .sort();
    // The same three events, byte for byte, a second time, and nothing more.
    expect(ids(3, 6)).toEqual(ids(0, 3));
    await caughtUp();
    expect(await domainEvents()).toBe(6);
  });
});
