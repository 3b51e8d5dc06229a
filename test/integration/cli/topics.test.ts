/**
 * `nylas-stream topics create` against the real broker: creates the plan, is idempotent, and warns
 * (without changing anything) when an existing topic differs from the configuration.
 */
import { type Admin, ConfigResourceTypes } from 'kafkajs';
import { MAX_RECORD_BYTES } from '../../../lib/topics';
import { runCli } from '../../helpers/cli';
import { createTopics, testKafka } from '../../helpers/kafka';
import { uniqueTopicEnv } from '../../helpers/topic-env';

describe('topics create', () => {
  let admin: Admin;
  const made: string[] = [];
  const topicEnv = (prefix: string) => {
    const env = uniqueTopicEnv(prefix, 3);
    made.push(
      ...Object.entries(env)
        .filter(
          ([k]) => k.startsWith('TOPIC_') && k !== 'TOPIC_PARTITIONS' && k !== 'TOPIC_REPLICATION_FACTOR',
        )
        .map(([, v]) => v),
    );
    return env;
  };
  beforeAll(async () => {
    admin = testKafka().admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin.deleteTopics({ topics: made }).catch(() => undefined);
    await admin.disconnect();
  });

  it('creates every topic of the plan and is idempotent', async () => {
    const env = topicEnv('topics');
    const first = await runCli(['topics', 'create'], env);
    expect(first.stderr).toBe('');
    expect(first.exitCode).toBe(0);
    expect(first.stdout).toContain('15 created, 0 already present, 0 warning(s)');

    const meta = await admin.fetchTopicMetadata({ topics: [env.TOPIC_RAW!, env.TOPIC_REJECTED!] });
    const partitions = Object.fromEntries(meta.topics.map((t) => [t.name, t.partitions.length]));
    expect(partitions).toEqual({ [env.TOPIC_RAW!]: 3, [env.TOPIC_REJECTED!]: 1 });
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        { type: ConfigResourceTypes.TOPIC, name: env.TOPIC_STATE!, configNames: ['cleanup.policy'] },
        { type: ConfigResourceTypes.TOPIC, name: env.TOPIC_DLQ!, configNames: ['retention.ms'] },
      ],
    });
    const values = Object.fromEntries(
      configs.resources.map((r) => [r.resourceName, r.configEntries[0]?.configValue]),
    );
    expect(values).toEqual({ [env.TOPIC_STATE!]: 'compact', [env.TOPIC_DLQ!]: '2592000000' });

    const second = await runCli(['topics', 'create', '--strict'], env);
    expect(second.exitCode).toBe(0);
    expect(second.stderr).toBe('');
    expect(second.stdout).toContain('0 created, 15 already present, 0 warning(s)');
  });

  it('warns when existing topics differ (partitions, retention, compaction) and --strict fails', async () => {
    const env = topicEnv('topics-diff');
    // A domain topic made by hand with the wrong partition count, a raw topic with a short retention
    // and a state topic that is not compacted.
    // (max.message.bytes is set as planned so that only the intended differences show.)
    const maxBytes = { 'max.message.bytes': String(MAX_RECORD_BYTES) };
    await createTopics(admin, [env.TOPIC_EMAIL_MESSAGES!], 2, maxBytes);
    await createTopics(admin, [env.TOPIC_RAW!], 3, { 'retention.ms': '3600000', ...maxBytes });
    await createTopics(admin, [env.TOPIC_STATE!], 3, { 'cleanup.policy': 'delete' });

    const r = await runCli(['topics', 'create', '--strict'], env);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain('12 created, 3 already present, 6 warning(s)');
    const warnings = r.stderr.split('\n');
    expect(warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          new RegExp(`^warning: ${env.TOPIC_EMAIL_MESSAGES} has 2 partitions, config says 3`),
        ),
        expect.stringMatching(
          new RegExp(`^warning: ${env.TOPIC_RAW} has retention.ms=3600000, config says 604800000`),
        ),
        expect.stringMatching(
          new RegExp(`^warning: ${env.TOPIC_STATE} has cleanup.policy=delete, config says compact`),
        ),
        expect.stringMatching(/^warning: topics that must be co-partitioned have different partition counts/),
      ]),
    );
    // Nothing was changed: warnings only.
    const meta = await admin.fetchTopicMetadata({ topics: [env.TOPIC_EMAIL_MESSAGES!] });
    expect(meta.topics[0]?.partitions).toHaveLength(2);
  });
});
