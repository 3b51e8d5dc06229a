/**
 * Against the real broker: one partition written by three transactional producers at once, two of them
 * aborting in the order that trips kafkajs's read_committed filter (B begins first and aborts last, so
 * the broker lists A's aborted transaction before B's). kafkajs as published delivers B's aborted record;
 * with the read-committed adaptation (lib/kafkajs/read-committed.ts) a read_committed reader sees exactly
 * the committed records. The reader is the one the CLI and the tests use (cli/ops/read-to-end.ts).
 */
import type { Kafka, Producer } from 'kafkajs';
import { createKafka, TRANSACTIONAL_RETRY } from '../../../../lib/kafka';
import { applyKafkajsAdaptations } from '../../../../lib/kafkajs';
import { silentLogger } from '../../../../lib/logger';
import { readToEnd } from '../../../../lib/read-to-end';
import { createTopics, testConfig, uniqueName } from '../../../helpers/kafka';

describe('read_committed through kafkajs (real broker)', () => {
  const topic = uniqueName('read-committed');
  // Created before any adaptation is applied in this file (jest gives each test file its own kafkajs).
  const published: Kafka = createKafka(testConfig().kafka, silentLogger(), 'read-committed');

  const read = async (kafka: Kafka): Promise<string[]> => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const values: string[] = [];
      await readToEnd(kafka, admin, { topic, timeoutMs: 30_000 }, (_p, m) => {
        values.push(String(m.value));
      });
      return values;
    } finally {
      await admin.disconnect();
    }
  };

  beforeAll(async () => {
    const admin = published.admin();
    await admin.connect();
    await createTopics(admin, [topic]);
    await admin.disconnect();
    const producers = new Map<string, Producer>();
    for (const name of ['A', 'B', 'C']) {
      const p = published.producer({
        transactionalId: uniqueName(`read-committed-${name}`),
        idempotent: true,
        maxInFlightRequests: 1,
        retry: TRANSACTIONAL_RETRY,
      });
      await p.connect();
      producers.set(name, p);
    }
    const producer = (name: string) => producers.get(name) as Producer;
    const send = (txn: Awaited<ReturnType<Producer['transaction']>>, value: string) =>
      txn.send({ topic, acks: -1, messages: [{ key: 'k', value }] });
    try {
      const b = await producer('B').transaction();
      await send(b, 'b0 aborted'); // offset 0
      const a = await producer('A').transaction();
      await send(a, 'a1 aborted'); // 1
      await a.abort(); // marker 2: A's aborted transaction is listed first
      await send(b, 'b3 aborted'); // 3
      await b.abort(); // marker 4
      const c = await producer('C').transaction();
      await send(c, 'c5 committed'); // 5
      await c.commit(); // marker 6
      const a2 = await producer('A').transaction();
      await send(a2, 'a7 committed'); // 7: A's next transaction, after its abort
      await a2.commit();
    } finally {
      await Promise.all([...producers.values()].map((p) => p.disconnect()));
    }
  });

  it('kafkajs as published delivers a record of an aborted transaction', async () => {
    const values = await read(published);
    expect(values).toContain('b0 aborted');
  });

  it('with the read-committed adaptation, exactly the committed records', async () => {
    const statuses = applyKafkajsAdaptations(silentLogger());
    expect(statuses.find((s) => s.name === 'read-committed')).toEqual({
      name: 'read-committed',
      active: true,
    });
    const kafka = createKafka(testConfig().kafka, silentLogger(), 'read-committed-adapted');
    expect(await read(kafka)).toEqual(['c5 committed', 'a7 committed']);
  });
});
