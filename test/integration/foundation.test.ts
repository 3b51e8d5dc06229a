/**
 * The ground everything else stands on: kafkajs 2.2.4 against the real broker (idempotent producer,
 * transactions with sendOffsets, consumer groups, read_committed isolation) and Avro through the real
 * registry, checked byte by byte.
 */
import { COMPATIBILITY, SchemaType } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import type { Admin, Kafka } from 'kafkajs';
import { createSchemaRegistry } from '../../lib/schema-registry';
import {
  createTopics,
  headerString,
  pollUntil,
  TopicCollector,
  testConfig,
  testKafka,
  uniqueName,
} from '../helpers/kafka';

describe('foundation: real broker and registry', () => {
  const config = testConfig();
  let kafka: Kafka;
  let admin: Admin;

  beforeAll(async () => {
    console.log(
      `running against ${process.env.NYLAS_STREAM_TEST_KAFKA_VERSION} and ${process.env.NYLAS_STREAM_TEST_REGISTRY_VERSION}`,
    );
    kafka = testKafka(config);
    admin = kafka.admin();
    await admin.connect();
  });

  afterAll(async () => {
    await admin.disconnect();
  });

  it('idempotent producer writes with acks=all and a consumer group reads them', async () => {
    const topic = uniqueName('idem');
    await createTopics(admin, [topic], 3);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const messages = Array.from({ length: 30 }, (_, i) => ({ key: `grant-${i % 5}`, value: `v${i}` }));
    const acks = await producer.send({ topic, acks: -1, messages });
    await producer.disconnect();
    expect(acks.every((a) => a.errorCode === 0)).toBe(true);

    const collector = await new TopicCollector(kafka, [topic]).start();
    const got = await collector.waitFor(30);
    await collector.stop();
    expect(got.map((r) => r.value?.toString()).sort()).toEqual(messages.map((m) => m.value).sort());
    // Same key → same partition: the grant-ordering guarantee the whole design relies on.
    const partitionsByKey = new Map<string, Set<number>>();
    for (const r of got) {
      const k = r.key?.toString() ?? '';
      partitionsByKey.set(k, (partitionsByKey.get(k) ?? new Set()).add(r.partition));
    }
    for (const parts of partitionsByKey.values()) expect(parts.size).toBe(1);
  });

  it('transactional consume-transform-produce with sendOffsets; read_committed never sees an aborted transaction', async () => {
    const input = uniqueName('tx-in');
    const output = uniqueName('tx-out');
    const groupId = uniqueName('tx-group');
    await createTopics(admin, [input, output], 1);

    const plain = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await plain.connect();
    await plain.send({
      topic: input,
      acks: -1,
      messages: Array.from({ length: 10 }, (_, i) => ({ key: 'g', value: `in-${i}` })),
    });
    await plain.disconnect();

    const tx = kafka.producer({
      transactionalId: uniqueName('txid'),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await tx.connect();

    // One aborted transaction first: its records reach the log but must stay invisible.
    const aborted = await tx.transaction();
    await aborted.send({ topic: output, messages: [{ key: 'g', value: 'ABORTED' }] });
    await aborted.abort();

    const consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic: input, fromBeginning: true });
    let transformed = 0;
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const t = await tx.transaction();
        try {
          await t.send({
            topic: output,
            messages: batch.messages.map((m) => ({
              key: m.key,
              value: `out-${m.value?.toString()}`,
              headers: { 'source-offset': m.offset },
            })),
          });
          const last = batch.messages[batch.messages.length - 1];
          if (last) {
            await t.sendOffsets({
              consumerGroupId: groupId,
              topics: [
                {
                  topic: batch.topic,
                  partitions: [{ partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() }],
                },
              ],
            });
          }
          await t.commit();
          transformed += batch.messages.length;
        } catch (err) {
          await t.abort();
          throw err;
        }
      },
    });
    await pollUntil(() => transformed >= 10, { description: '10 transformed records' });
    await consumer.disconnect();
    await tx.disconnect();

    const committed = await new TopicCollector(kafka, [output], 'read_committed').start();
    const seen = await committed.waitFor(10);
    // The aborted record sits before the committed ones; read_committed must skip it. Give the
    // consumer one more poll cycle past the 10 we expect before asserting nothing else arrived.
    await pollUntil(async () => (await admin.fetchTopicOffsets(output)).every((p) => Number(p.high) >= 12), {
      description: 'all markers written',
    });
    await committed.stop();
    expect(seen.map((r) => r.value?.toString())).toEqual(Array.from({ length: 10 }, (_, i) => `out-in-${i}`));
    expect(seen.map((r) => headerString(r.headers, 'source-offset'))).toEqual(
      Array.from({ length: 10 }, (_, i) => String(i)),
    );

    const uncommitted = await new TopicCollector(kafka, [output], 'read_uncommitted').start();
    const raw = await uncommitted.waitFor(11);
    await uncommitted.stop();
    expect(raw.map((r) => r.value?.toString())).toContain('ABORTED');

    // sendOffsets committed the group's position inside the transaction. The marker in __consumer_offsets
    // is written apart from the output topic's, so the stable offset may lag the wait above: poll, bounded.
    const offset = await pollUntil(
      async () => {
        const [offsets] = await admin.fetchOffsets({ groupId, topics: [input] });
        const seen = offsets?.partitions[0]?.offset;
        return seen === '10' ? seen : false;
      },
      { timeoutMs: 10_000, description: "the group's committed offset 10" },
    );
    expect(offset).toBe('10');
  });

  it('registers an Avro schema and writes the Confluent wire format: magic 0 + 4-byte id the registry resolves', async () => {
    const registry = createSchemaRegistry(config.registry);
    const subject = `${uniqueName('foundation')}-value`;
    const schema = {
      type: 'record',
      name: 'Probe',
      namespace: 'io.nylasstream.test',
      fields: [
        { name: 'id', type: 'string' },
        { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
        { name: 'count', type: 'int' },
      ],
    };
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
      { subject, compatibility: COMPATIBILITY.BACKWARD_TRANSITIVE },
    );
    expect(id).toBeGreaterThan(0);

    // Timestamps travel as epoch milliseconds (timestamp-millis on a long), the form every reader decodes.
    const value = { id: 'abc', at: 1723821985000, count: 7 };
    const encoded = await registry.encode(id, value);
    expect(encoded).toBeConfluentAvro(id);
    expect(encoded.readUInt8(0)).toBe(0);
    expect(encoded.readUInt32BE(1)).toBe(id);

    // The id resolves through the plain Confluent REST API, and avsc alone decodes the body.
    const res = await fetch(`${config.registry.url}/schemas/ids/${id}`);
    expect(res.status).toBe(200);
    const writer = avro.Type.forSchema(JSON.parse(((await res.json()) as { schema: string }).schema));
    const body = encoded.subarray(5);
    expect(body.equals(avro.Type.forSchema(schema as avro.Schema).toBuffer(value))).toBe(true);
    expect(writer.fromBuffer(body)).toEqual({ id: 'abc', at: 1723821985000, count: 7 });

    // Registering the same schema again is idempotent (same id), and the library round-trips it.
    const again = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
      { subject, compatibility: COMPATIBILITY.BACKWARD_TRANSITIVE },
    );
    expect(again.id).toBe(id);
    expect(await registry.decode(encoded)).toEqual({ id: 'abc', at: 1723821985000, count: 7 });
  });
});
