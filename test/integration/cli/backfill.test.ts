/**
 * `nylas-stream backfill` against the real broker and the simulator's Nylas API: the dry run prints the
 * plan and writes nothing; --all-grants pages through GET /v3/grants and skips the invalid grant;
 * --execute writes one request per grant that the coordinator's parseRequest accepts, keyed and placed
 * on its grant's partition; --status reads them back as not yet applied (no coordinator runs here), and
 * a grant's state as the coordinator writes it.
 */
import type { Admin, Kafka } from 'kafkajs';
import { type CommonConfig, loadCommonConfig } from '../../../lib/config';
import { ensureTopics, topicPlan } from '../../../lib/topics';
import {
  type BackfillRequest,
  type GrantBackfillState,
  grantKey,
  grantPartition,
  parseKey,
  parseRequest,
} from '../../../processors/backfill/records';
import { createWorld, type NylasApiServer, startNylasApi, type World } from '../../../simulator/index';
import { runCli } from '../../helpers/cli';
import { pollUntil, TopicCollector, testKafka } from '../../helpers/kafka';
import { uniqueTopicEnv } from '../../helpers/topic-env';

const PARTITIONS = 3;
/** More than one page of GET /v3/grants (limit 200). */
const GRANTS = 230;

describe('backfill', () => {
  const topicEnv = uniqueTopicEnv('backfill', PARTITIONS);
  const apiKey = 'nyk_test_backfill_cli';
  let env: Record<string, string>;
  let config: CommonConfig;
  let kafka: Kafka;
  let admin: Admin;
  let api: NylasApiServer;
  let world: World;
  const collectors: TopicCollector[] = [];

  const written = async () =>
    (await admin.fetchTopicOffsets(config.topics.backfill)).reduce((n, p) => n + Number(p.high), 0);

  beforeAll(async () => {
    config = loadCommonConfig({ ...process.env, ...topicEnv, LOG_LEVEL: 'silent' });
    kafka = testKafka(config);
    admin = kafka.admin();
    await admin.connect();
    // Just created, a KRaft broker may answer UNKNOWN_TOPIC_OR_PARTITION to createTopics' wait for
    // leaders, and NOT_LEADER to ListOffsets, for a moment; kafkajs's admin retries neither. ensureTopics
    // is idempotent, so it is simply tried again. Topics an operator backfills into exist long before.
    await pollUntil(async () => (await ensureTopics(admin, topicPlan(config.topics))) !== undefined, {
      description: 'the topics',
    });
    for (const topic of [config.topics.raw, config.topics.backfill])
      await pollUntil(async () => (await admin.fetchTopicOffsets(topic)).length === PARTITIONS, {
        description: `leaders of ${topic}`,
      });
    world = createWorld({
      seed: 7,
      grants: GRANTS,
      initialObjects: { messages: 0, events: 0, contacts: 0, labels: 0, calendars: 1 },
    });
    api = await startNylasApi({ world, apiKey, port: 0 });
    env = { ...topicEnv, NYLAS_API_KEY: apiKey, NYLAS_API_URI: api.url };
  });
  afterAll(async () => {
    for (const c of collectors) await c.stop();
    await api?.close();
    await admin.deleteTopics({ topics: topicPlan(config.topics).map((s) => s.name) }).catch(() => undefined);
    await admin.disconnect();
  });

  it('dry run: prints the plan for two grants and writes nothing', async () => {
    const [a, b] = world.grantIds as [string, string];
    const r = await runCli(
      ['backfill', '--grant', a, '--grant', b, '--since', '2026-03-01T09:00:00Z', '--until', '1772625600'],
      env,
    );
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`backfill plan (dry run): 2 grant(s) → ${config.topics.backfill}`);
    expect(r.stdout).toContain(
      '2026-03-01T09:00:00Z … 2026-03-04T12:00:00Z (Unix seconds 1772355600 … 1772625600',
    );
    for (const g of [a, b])
      expect(r.stdout).toMatch(new RegExp(`${g}\\s+${grantPartition(g, PARTITIONS)}\\n`));
    expect(r.stdout).toContain(
      'GET /v3/grants/{grant_id}/messages?received_after=1772355600&received_before=1772625600&limit=200',
    );
    expect(r.stdout).toContain('show_cancelled=true&limit=200');
    expect(r.stdout).toContain('what this cannot recover:');
    expect(r.stdout).toContain(
      `nylas-stream backfill --grant ${a} --grant ${b} --since 1772355600 --until 1772625600 --execute`,
    );
    expect(r.stderr).toBe('');
    expect(await written()).toBe(0);
    // The dry run with --grant needs no Nylas API: the coordinator makes the calls.
    expect(api.requests).toHaveLength(0);
  });

  it('--all-grants: pages through GET /v3/grants and skips the invalid grant, saying why', async () => {
    const invalid = world.grantIds[5] as string;
    world.setGrantStatus(invalid, 'invalid');
    const r = await runCli(['backfill', '--all-grants', '--since', '72h'], env);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`grants     from GET /v3/grants: ${GRANTS} listed, ${GRANTS - 1} valid`);
    expect(r.stdout).toContain('skipped 1 grant(s):');
    expect(r.stdout).toContain(
      `1 with grant_status invalid (every list call would answer 401: the backfill would wait, blocked, until the user re-authenticates): ${invalid}`,
    );
    expect(r.stdout).toMatch(/nylas-stream backfill --all-grants --since \d+ --until \d+ --execute/);
    const listCalls = api.requests.filter((q) => q.method === 'GET' && q.path === '/v3/grants');
    expect(listCalls.map((q) => q.status)).toEqual([200, 200]);
    expect(await written()).toBe(0);
  });

  it('--execute: one request per valid grant, accepted by parseRequest, on its grant partition; --status shows them', async () => {
    const invalid = world.grantIds[5] as string;
    const collector = await new TopicCollector(kafka, [config.topics.backfill]).start();
    collectors.push(collector);
    const r = await runCli(
      ['backfill', '--all-grants', '--since', '1772355600', '--objects', 'events,messages', '--execute'],
      env,
    );
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toContain('dry run');
    expect(r.stdout).toContain(`wrote ${GRANTS - 1} backfill request(s) to ${config.topics.backfill}:`);
    expect(r.stdout).toContain('nylas-stream backfill --status');
    expect(r.stdout).toContain('nylas_stream_backfill_running{state}');

    const records = await collector.waitFor(GRANTS - 1);
    const requests: BackfillRequest[] = [];
    for (const rec of records) {
      const key = parseKey(rec.key);
      const request = parseRequest(JSON.parse(String(rec.value)));
      if (typeof request === 'string') throw new Error(request);
      expect(key).toEqual({ kind: 'request', grantId: request.grantId, id: request.id });
      expect(rec.partition).toBe(grantPartition(request.grantId, PARTITIONS));
      expect(request).toMatchObject({
        reason: 'manual',
        since: 1772355600,
        families: ['messages', 'events'],
      });
      expect(request.applicationId).toBeUndefined();
      expect(r.stdout).toContain(request.id);
      requests.push(request);
    }
    expect(new Set(requests.map((q) => q.grantId))).toEqual(
      new Set(world.grantIds.filter((g) => g !== invalid)),
    );
    expect(new Set(requests.map((q) => q.id)).size).toBe(GRANTS - 1);

    // The coordinator's record for one grant, as it would write it after applying its request.
    const [first, second] = requests as [BackfillRequest, BackfillRequest];
    const state: GrantBackfillState = {
      kind: 'grant',
      grantId: first.grantId,
      running: {
        request: first,
        position: { listing: 0, cursor: 'next' },
        objects: 42,
        pages: 1,
        calls: 1,
        startedAt: Date.now() - 5000,
      },
      queued: [],
    };
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: config.topics.backfill,
      acks: -1,
      messages: [
        {
          key: grantKey(first.grantId),
          value: JSON.stringify(state),
          partition: grantPartition(first.grantId, PARTITIONS),
        },
      ],
    });
    await producer.disconnect();

    const status = await runCli(
      ['backfill', '--status', '--grant', `${first.grantId},${second.grantId}`],
      env,
    );
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toContain('1 grant(s) with a backfill state, 2 request(s) not yet applied');
    expect(status.stdout).toContain(
      `running    ${first.id} manual 2026-03-01T09:00:00Z … ${new Date(first.until * 1000).toISOString().replace('.000Z', 'Z')} messages,events: 42 object(s), 1 page(s), 1 call(s)`,
    );
    expect(status.stdout).toContain('listing 1/3 messages, next page; started');
    expect(status.stdout).toContain(`waiting    ${second.id} manual`);

    const json = await runCli(['backfill', '--status', '--json'], env);
    expect(json.exitCode).toBe(0);
    const parsed = JSON.parse(json.stdout) as {
      records: number;
      grants: Array<{
        grantId: string;
        pendingRequests: Array<{ request: BackfillRequest; partition: number }>;
      }>;
    };
    expect(parsed.records).toBe(GRANTS);
    expect(parsed.grants).toHaveLength(GRANTS - 1);
    const pending = parsed.grants.flatMap((g) => g.pendingRequests);
    expect(pending.map((p) => p.request.id).sort()).toEqual(requests.map((q) => q.id).sort());
  });

  it('--execute refuses when the backfill topic does not exist', async () => {
    const r = await runCli(['backfill', '--grant', 'grant-x', '--since', '72h', '--execute'], {
      ...env,
      TOPIC_BACKFILL: `${config.topics.backfill}.missing`,
    });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`no such topic: ${config.topics.backfill}.missing`);
  });
});
