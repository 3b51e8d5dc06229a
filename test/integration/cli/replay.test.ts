/**
 * `nylas-stream replay` against the real broker: the dry run changes nothing, --execute moves the
 * committed offsets exactly as the printed plan said, an active group is refused, and --reset-state
 * tombstones the processor's changelog entries of the replayed partitions only.
 */
import type { Admin, Consumer, Kafka } from 'kafkajs';
import { runCli } from '../../helpers/cli';
import { createTopics, pollUntil, testKafka, uniqueName } from '../../helpers/kafka';

describe('replay', () => {
  let kafka: Kafka;
  let admin: Admin;
  const made: string[] = [];

  beforeAll(async () => {
    kafka = testKafka();
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin.deleteTopics({ topics: made }).catch(() => undefined);
    await admin.disconnect();
  });

  /** A 2-partition topic with 10 records per partition, timestamps base+i seconds, and group at 10/10. */
  async function fixture(prefix: string) {
    const topic = uniqueName(prefix);
    const group = uniqueName(`${prefix}-group`);
    await createTopics(admin, [topic], 2);
    made.push(topic);
    // An hour ago, not a fixed date: the broker's time-based retention (7 days by default) deletes
    // records by their timestamp, and its periodic check emptied these partitions mid-test once the
    // fixed date (2026-01-01) was older than that, so the CLI saw earliest = latest = 10.
    const base = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
    const producer = kafka.producer();
    await producer.connect();
    for (const partition of [0, 1]) {
      await producer.send({
        topic,
        messages: Array.from({ length: 10 }, (_, i) => ({
          partition,
          key: `g${partition}`,
          value: `v${i}`,
          timestamp: String(base + i * 1000),
        })),
      });
    }
    await producer.disconnect();
    await admin.setOffsets({
      groupId: group,
      topic,
      partitions: [
        { partition: 0, offset: '10' },
        { partition: 1, offset: '10' },
      ],
    });
    return { topic, group, base };
  }

  async function committed(group: string, topic: string): Promise<Record<number, string>> {
    const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return Object.fromEntries((t?.partitions ?? []).map((p) => [p.partition, p.offset]));
  }

  /** The plan rows the CLI printed: partition → [current, target, reprocess]. */
  function printedPlan(stdout: string, topic: string): Record<number, [string, string, string]> {
    const out: Record<number, [string, string, string]> = {};
    for (const line of stdout.split('\n')) {
      const cols = line.trim().split(/\s+/);
      // 7 columns for the processor's raw topic: "beyond window" is counted there.
      if (cols[0] === topic && (cols.length === 6 || cols.length === 7))
        out[Number(cols[1])] = [cols[2]!, cols[3]!, cols[4]!];
    }
    return out;
  }

  it('dry run prints the plan and changes nothing; --execute moves offsets exactly as planned', async () => {
    const { topic, group } = await fixture('replay-shift');
    const dry = await runCli(['replay', '--group', group, '--shift-by', '-3']);
    expect(dry.exitCode).toBe(0);
    expect(printedPlan(dry.stdout, topic)).toEqual({ 0: ['10', '7', '3'], 1: ['10', '7', '3'] });
    expect(dry.stdout).toContain('total: 6 record(s) to reprocess, 0 to skip, 2 partition(s) change');
    expect(dry.stdout).toContain('dry run: nothing changed');
    expect(await committed(group, topic)).toEqual({ 0: '10', 1: '10' });

    const run = await runCli(['replay', '--group', group, '--topic', topic, '--shift-by=-3', '--execute']);
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    expect(printedPlan(run.stdout, topic)).toEqual(printedPlan(dry.stdout, topic));
    expect(run.stdout).toContain(
      `done: 2 partition offset(s) of group "${group}" moved (6 record(s) to reprocess)`,
    );
    expect(await committed(group, topic)).toEqual({ 0: '7', 1: '7' });

    await runCli(['replay', '--group', group, '--topic', topic, '--to-earliest', '--execute']);
    expect(await committed(group, topic)).toEqual({ 0: '0', 1: '0' });
    const latest = await runCli(['replay', '--group', group, '--topic', topic, '--to-latest', '--execute']);
    expect(latest.stderr).toContain('will never be processed');
    expect(await committed(group, topic)).toEqual({ 0: '10', 1: '10' });
  });

  it('--to-datetime goes to the first record at or after the time', async () => {
    const { topic, group, base } = await fixture('replay-time');
    const when = new Date(base + 4500).toISOString();
    const r = await runCli([
      'replay',
      '--group',
      group,
      '--topic',
      topic,
      '--to-datetime',
      when,
      '--execute',
    ]);
    expect(r.exitCode).toBe(0);
    expect(printedPlan(r.stdout, topic)).toEqual({ 0: ['10', '5', '5'], 1: ['10', '5', '5'] });
    expect(await committed(group, topic)).toEqual({ 0: '5', 1: '5' });
  });

  it('refuses to execute while the group has members, and changes nothing', async () => {
    const { topic, group } = await fixture('replay-active');
    const consumer: Consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic });
    await consumer.run({ autoCommit: false, eachMessage: async () => undefined });
    try {
      await pollUntil(async () => (await admin.describeGroups([group])).groups[0]?.members.length === 1, {
        description: 'the consumer to join its group',
      });
      const r = await runCli(['replay', '--group', group, '--topic', topic, '--to-earliest', '--execute']);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(`consumer group "${group}" has 1 active member(s)`);
      expect(await committed(group, topic)).toEqual({ 0: '10', 1: '10' });
    } finally {
      await consumer.disconnect();
    }
  });

  it('--reset-state is refused for a group other than the processor group', async () => {
    const { topic, group } = await fixture('replay-notproc');
    const r = await runCli(['replay', '--group', group, '--topic', topic, '--to-earliest', '--reset-state']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('--reset-state applies only to the processor group');
  });

  it('--reset-state tombstones the changelog entries of the replayed partitions, and only those', async () => {
    const { topic: raw, group } = await fixture('replay-state');
    const state = uniqueName('replay-state-changelog');
    await createTopics(admin, [state], 2, { 'cleanup.policy': 'compact' });
    made.push(state);
    const producer = kafka.producer();
    await producer.connect();
    const k = (...parts: unknown[]) => JSON.stringify(parts);
    await producer.send({
      topic: state,
      messages: [
        { partition: 0, key: k(0, 'd', 'n1'), value: '{"e":1}' },
        { partition: 0, key: k(0, 'v', 'g0', 'message', 'm1'), value: '{"v":"1","o":"0","d":0,"e":1}' },
        { partition: 0, key: k(0, 'd', 'gone'), value: '{"e":1}' },
        { partition: 0, key: k(0, 'd', 'gone'), value: null },
        { partition: 1, key: k(1, 'd', 'n2'), value: '{"e":1}' },
      ],
    });
    await producer.disconnect();
    const env = { PROCESSOR_GROUP_ID: group, TOPIC_RAW: raw, TOPIC_STATE: state };
    // Only partition 0 is replayed: partition 1 is already at 10.
    await admin.setOffsets({ groupId: group, topic: raw, partitions: [{ partition: 1, offset: '0' }] });

    const dry = await runCli(['replay', '--group', group, '--shift-by=-4', '--reset-state'], env);
    expect(dry.exitCode).toBe(0);
    expect(printedPlan(dry.stdout, raw)).toEqual({ 0: ['10', '6', '4'], 1: ['0', '0', '0'] });
    expect(dry.stdout).toContain('state: 2 dedupe/version/progress entr(ies) of partition(s) [0]');
    expect(dry.stderr).toContain('downstream consumers will see those events a second time');

    const run = await runCli(
      ['replay', '--group', group, '--shift-by=-4', '--reset-state', '--execute'],
      env,
    );
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain('state: wrote 2 tombstone(s)');
    expect(await committed(group, raw)).toEqual({ 0: '6', 1: '0' });

    const offsets = await admin.fetchTopicOffsets(state);
    // Two tombstones, then the reset marker that makes a processor's on-disk store forget (a store
    // restored from its checkpoint never reads the tombstoned records again).
    expect(Object.fromEntries(offsets.map((o) => [o.partition, o.high]))).toEqual({ 0: '7', 1: '1' });
    const tail = await runCli(['tail', state, '--partition', '0', '--last', '3', '--json']);
    const lines = tail.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    expect(
      lines
        .slice(0, 2)
        .map((l) => [l.key, l.format])
        .sort(),
    ).toEqual(
      [
        [k(0, 'd', 'n1'), 'tombstone'],
        [k(0, 'v', 'g0', 'message', 'm1'), 'tombstone'],
      ].sort(),
    );
    expect(lines[2]).toMatchObject({ key: k(0, 'r'), format: expect.not.stringMatching('tombstone') });
  });
});
