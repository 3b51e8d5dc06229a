/**
 * `nylas-stream redrive` end to end with the real processor: a truncated message whose grant is
 * invalid (401 on expansion) is dead-lettered by the processor; after the "fix" (the grant works
 * again) the dry run counts it and changes nothing, --execute puts the exact bytes and ingress headers
 * back on the raw topic, and the processor accepts it and publishes the domain event.
 */
import type { Admin, Kafka } from 'kafkajs';
import { type CommonConfig, loadCommonConfig } from '../../../lib/config';
import { silentLogger } from '../../../lib/logger';
import { createSchemaRegistry } from '../../../lib/schema-registry';
import { ensureTopics, topicPlan } from '../../../lib/topics';
import { loadProcessorConfig, type RunningProcessor, startProcessor } from '../../../processors/index';
import { ApiCallError } from '../../../processors/stages/expand';
import { createMockNotifications } from '../../../simulator/index';
import { runCli } from '../../helpers/cli';
import { headerString, TopicCollector, testKafka, uniqueName } from '../../helpers/kafka';
import { uniqueTopicEnv } from '../../helpers/topic-env';

describe('redrive', () => {
  const env = { ...uniqueTopicEnv('redrive', 2), PROCESSOR_GROUP_ID: uniqueName('redrive-processor') };
  let config: CommonConfig;
  let kafka: Kafka;
  let admin: Admin;
  let processor: RunningProcessor | undefined;
  const collectors: TopicCollector[] = [];

  beforeAll(async () => {
    config = loadCommonConfig({ ...process.env, ...env, LOG_LEVEL: 'silent' });
    kafka = testKafka(config);
    admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, topicPlan(config.topics));
  });
  afterAll(async () => {
    await processor?.stop();
    for (const c of collectors) await c.stop();
    await admin.deleteTopics({ topics: topicPlan(config.topics).map((s) => s.name) }).catch(() => undefined);
    await admin.disconnect();
  });

  it('re-emits dead letters with their original bytes and headers, and the processor accepts them', async () => {
    // A realistic truncated message.created: the full message is what the API returns once the grant works.
    const full = createMockNotifications('app-redrive')('message.created');
    const object = full.data.object as Record<string, unknown>;
    const grantId = String(object.grant_id);
    const { body: _dropped, ...truncatedObject } = object;
    const notification = {
      ...full,
      type: 'message.created.truncated',
      data: { ...full.data, object: truncatedObject },
    };
    let grantValid = false;
    const fetchMessage = async () => {
      if (!grantValid) throw new ApiCallError('Nylas API 401: grant expired', 401, undefined);
      return object;
    };

    const processorConfig = loadProcessorConfig({
      ...process.env,
      ...env,
      LOG_LEVEL: 'silent',
      NYLAS_API_KEY: 'test-key',
      PROCESSOR_METRICS_PORT: '0',
    });
    processor = await startProcessor(processorConfig, {
      http: false,
      logger: silentLogger(),
      fetchMessage,
      onFatal: (err) => {
        throw err;
      },
    });

    const dlq = await new TopicCollector(kafka, [config.topics.dlq]).start();
    const raw = await new TopicCollector(kafka, [config.topics.raw], 'read_uncommitted').start();
    const messages = await new TopicCollector(kafka, [config.topics.emailMessages]).start();
    collectors.push(dlq, raw, messages);

    const value = Buffer.from(JSON.stringify(notification));
    const headers = {
      'nylas-signature': 'ab'.repeat(32),
      'content-type': 'application/json',
      'nylas-notification-id': notification.id,
      'nylas-type': notification.type,
      'nylas-delivery-attempt': '1',
      'nylas-destination': 'default',
      'received-at': String(Date.now()),
    };
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    await producer.send({ topic: config.topics.raw, acks: -1, messages: [{ key: grantId, value, headers }] });
    await producer.disconnect();

    const [dead] = await dlq.waitFor(1);
    expect(headerString(dead!.headers, 'dlq-reason')).toBe('NYLAS_API_UNAUTHORIZED');
    expect(headerString(dead!.headers, 'dlq-redrivable')).toBe('true');
    expect(messages.records).toHaveLength(0);

    grantValid = true; // the fix: the user re-authenticated the grant

    const dry = await runCli(['redrive', '--reason', 'NYLAS_API_UNAUTHORIZED', '--list'], env);
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toMatch(/NYLAS_API_UNAUTHORIZED\s+1\s+1/);
    expect(dry.stdout).toContain(notification.id);
    expect(dry.stdout).toContain('scanned 1 dead letter(s), 1 match the filters');
    expect(dry.stdout).toContain('dry run: nothing written');
    const other = await runCli(['redrive', '--filter', 'reason=MALFORMED_JSON'], env);
    expect(other.stdout).toContain('scanned 1 dead letter(s), 0 match the filters');
    expect(raw.records).toHaveLength(1);

    const run = await runCli(
      ['redrive', '--filter', 'reason=NYLAS_API_UNAUTHORIZED', '--grant', grantId, '--execute'],
      env,
    );
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain(`wrote 1 record(s) to ${config.topics.raw}`);

    const [original, redriven] = await raw.waitFor(2);
    expect(redriven!.key?.toString()).toBe(grantId);
    expect(redriven!.partition).toBe(original!.partition);
    expect(Buffer.compare(redriven!.value!, value)).toBe(0);
    const names = (h: Record<string, unknown>) => Object.keys(h).sort();
    expect(names(redriven!.headers)).toEqual(names(headers));
    for (const [k, v] of Object.entries(headers)) expect(headerString(redriven!.headers, k)).toBe(v);

    const [event] = await messages.waitFor(1);
    expect(event!.key?.toString()).toBe(grantId);
    expect(event!.value).toBeConfluentAvro();
    const decoded = (await createSchemaRegistry(config.registry).decode(event!.value!)) as Record<
      string,
      unknown
    >;
    expect(JSON.stringify(decoded)).toContain(String(object.id));
    expect(dlq.records).toHaveLength(1);
  });
});
