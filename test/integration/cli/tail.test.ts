/**
 * `nylas-stream tail` against the real broker and registry: Avro decoded through the registry, raw
 * JSON and gzip bodies, key/partition/offset/timestamp, the grant filter, --last, stopping at the end
 * offsets of a transactional topic, and --follow.
 */
import { gzipSync } from 'node:zlib';
import { COMPATIBILITY, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { Admin, Kafka } from 'kafkajs';
import { type TailRecord, tail } from '../../../cli/ops/tail';
import { createSchemaRegistry } from '../../../lib/schema-registry';
import { runCli } from '../../helpers/cli';
import {
  createTopics,
  pollUntil,
  testConfig,
  testKafka,
  transactionalProducer,
  uniqueName,
} from '../../helpers/kafka';

describe('tail', () => {
  const config = testConfig();
  const registry = createSchemaRegistry(config.registry);
  let kafka: Kafka;
  let admin: Admin;
  const made: string[] = [];

  async function topic(prefix: string, partitions = 1): Promise<string> {
    const name = uniqueName(prefix);
    await createTopics(admin, [name], partitions);
    made.push(name);
    return name;
  }

  beforeAll(async () => {
    kafka = testKafka(config);
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin.deleteTopics({ topics: made }).catch(() => undefined);
    await admin.disconnect();
  });

  const parseLines = (stdout: string) =>
    stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  it('decodes Confluent-framed Avro through the registry, with key, partition, offset and timestamp', async () => {
    const name = await topic('tail-avro');
    const { id } = await registry.register(
      {
        type: SchemaType.AVRO,
        schema: JSON.stringify({
          type: 'record',
          name: 'TailProbe',
          namespace: 'io.nylasstream.test',
          fields: [
            { name: 'event_id', type: 'string' },
            { name: 'grant_id', type: 'string' },
            { name: 'occurred_at', type: { type: 'long', logicalType: 'timestamp-millis' } },
          ],
        }),
      },
      { subject: `${name}-value`, compatibility: COMPATIBILITY.BACKWARD_TRANSITIVE },
    );
    // Record timestamps an hour ago, not a fixed 2024 date: the broker's time-based retention (7 days by
    // default) deletes records by their timestamp whenever its periodic check runs.
    const at = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: name,
      messages: [
        {
          key: 'grant-a',
          value: await registry.encode(id, {
            event_id: 'e1',
            grant_id: 'grant-a',
            occurred_at: 1723821985000,
          }),
          timestamp: String(at),
        },
        {
          key: 'grant-b',
          value: await registry.encode(id, {
            event_id: 'e2',
            grant_id: 'grant-b',
            occurred_at: 1723821986000,
          }),
          timestamp: String(at + 1000),
        },
      ],
    });
    await producer.disconnect();

    const r = await runCli(['tail', name, '--from-beginning', '--json'], { LOG_LEVEL: 'silent' });
    expect(r.exitCode).toBe(0);
    expect(parseLines(r.stdout)).toEqual([
      {
        topic: name,
        partition: 0,
        offset: '0',
        timestamp: new Date(at).toISOString(),
        key: 'grant-a',
        format: 'avro',
        schemaId: id,
        value: { event_id: 'e1', grant_id: 'grant-a', occurred_at: 1723821985000 },
      },
      expect.objectContaining({
        offset: '1',
        key: 'grant-b',
        format: 'avro',
        value: expect.objectContaining({ event_id: 'e2' }),
      }),
    ]);

    const human = await runCli(['tail', name, '--from-beginning', '--grant', 'grant-b'], {
      LOG_LEVEL: 'silent',
    });
    expect(human.stdout).toContain(
      `${name} [0] @1  ${new Date(at + 1000).toISOString()}  key=grant-b  avro schema=${id}`,
    );
    expect(human.stdout).toContain('"event_id": "e2"');
    expect(human.stdout).not.toContain('"event_id": "e1"');
    expect(human.stderr).toContain('1 record(s)');
  });

  it('shows raw JSON and gzip bodies, redacts signatures, and --last limits per partition', async () => {
    const name = await topic('tail-raw');
    const body = JSON.stringify({ id: 'n1', type: 'message.created', data: { object: { grant_id: 'g' } } });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: name,
      messages: [
        { key: 'g', value: 'plain text, not JSON' },
        { key: 'g', value: body, headers: { 'nylas-signature': 'abc123', 'nylas-type': 'message.created' } },
        { key: 'g', value: gzipSync(body), headers: { 'content-encoding': 'gzip' } },
      ],
    });
    await producer.disconnect();

    const r = await runCli(['tail', name, '--from-beginning', '--json', '--headers'], {
      LOG_LEVEL: 'silent',
    });
    const lines = parseLines(r.stdout);
    expect(lines.map((l) => [l.offset, l.format])).toEqual([
      ['0', 'text'],
      ['1', 'json'],
      ['2', 'json'],
    ]);
    expect(lines[1]?.headers).toEqual({ 'nylas-signature': '[redacted]', 'nylas-type': 'message.created' });
    expect(lines[2]?.value).toEqual(JSON.parse(body));
    expect(r.stdout).not.toContain('abc123');

    const last = await runCli(['tail', name, '--last', '1', '--json'], { LOG_LEVEL: 'silent' });
    expect(parseLines(last.stdout).map((l) => l.offset)).toEqual(['2']);
  });

  it('stops at the end offsets seen at start on a transactional topic (last offset is a commit marker)', async () => {
    const name = await topic('tail-txn', 2);
    const producer = await transactionalProducer(kafka, 'tail-txn');
    const txn = await producer.transaction();
    await txn.send({
      topic: name,
      messages: [
        { key: 'a', value: '{"n":1}', partition: 0 },
        { key: 'b', value: '{"n":2}', partition: 1 },
      ],
    });
    await txn.commit();
    const aborted = await producer.transaction();
    await aborted.send({ topic: name, messages: [{ key: 'a', value: '{"n":3}', partition: 0 }] });
    await aborted.abort();
    await producer.disconnect();

    const seen: TailRecord[] = [];
    const shown = await tail(
      { kafka, admin, registry },
      { topic: name, fromBeginning: true, last: 10, follow: false },
      (rec) => seen.push(rec),
    );
    expect(shown).toBe(2);
    expect(seen.map((s) => [s.partition, s.decoded.value])).toEqual(
      expect.arrayContaining([
        [0, { n: 1 }],
        [1, { n: 2 }],
      ]),
    );
  });

  it('--last N shows exactly N records per partition of a transactional topic (markers take offsets)', async () => {
    // What a processor writes: each transaction puts one record in each partition, then a commit marker
    // there, so every other offset is a marker. An aborted transaction at the end of partition 0 adds a
    // record nobody reads and an abort marker. Partition 2 gets only 2 committed records.
    const name = await topic('tail-last-txn', 3);
    const producer = await transactionalProducer(kafka, 'tail-last-txn');
    for (let n = 1; n <= 5; n++) {
      const txn = await producer.transaction();
      await txn.send({
        topic: name,
        messages: [0, 1, ...(n <= 2 ? [2] : [])].map((partition) => ({
          key: `k${partition}`,
          value: JSON.stringify({ n }),
          partition,
        })),
      });
      await txn.commit();
    }
    const aborted = await producer.transaction();
    await aborted.send({ topic: name, messages: [{ key: 'k0', value: '{"n":99}', partition: 0 }] });
    await aborted.abort();
    await producer.disconnect();

    const lastOf = async (last: number) => {
      const seen: TailRecord[] = [];
      await tail(
        { kafka, admin, registry },
        { topic: name, fromBeginning: false, last, follow: false },
        (r) => seen.push(r),
      );
      return [0, 1, 2].map((p) =>
        seen.filter((r) => r.partition === p).map((r) => (r.decoded.value as { n: number }).n),
      );
    };
    expect(await lastOf(1)).toEqual([[5], [5], [2]]);
    expect(await lastOf(3)).toEqual([
      [3, 4, 5],
      [3, 4, 5],
      [1, 2],
    ]);
    expect(await lastOf(10)).toEqual([
      [1, 2, 3, 4, 5],
      [1, 2, 3, 4, 5],
      [1, 2],
    ]);
    // The CLI the same way.
    const cli = await runCli(['tail', name, '--last', '1', '--json'], { LOG_LEVEL: 'silent' });
    const byPartition = (a: unknown[], b: unknown[]) => Number(a[0]) - Number(b[0]);
    expect(
      parseLines(cli.stdout)
        .map((l) => [l.partition, l.value])
        .sort(byPartition),
    ).toEqual([
      [0, { n: 5 }],
      [1, { n: 5 }],
      [2, { n: 2 }],
    ]);
  });

  it('--follow prints records produced after it started, until stopped', async () => {
    const name = await topic('tail-follow');
    const seen: TailRecord[] = [];
    const abort = new AbortController();
    const running = tail(
      { kafka, admin, registry },
      { topic: name, fromBeginning: false, last: 0, follow: true },
      (rec) => seen.push(rec),
      abort.signal,
    );
    const producer = kafka.producer();
    await producer.connect();
    // Keep producing until the tail (which joins its group asynchronously) has shown one.
    await pollUntil(
      async () => {
        await producer.send({ topic: name, messages: [{ key: 'k', value: '"later"' }] });
        return seen.length > 0;
      },
      { timeoutMs: 30_000, intervalMs: 500, description: 'tail --follow to print a new record' },
    );
    await producer.disconnect();
    abort.abort();
    expect(await running).toBeGreaterThan(0);
    expect(seen[0]?.decoded).toEqual({ format: 'json', value: 'later' });
  });
});
