/**
 * The processor's baseline: a kafkajs transactional passthrough, the least an exactly-once
 * consume-transform-produce loop can do. For each fetched batch: begin a transaction, produce the same
 * bytes (key, value, headers) to one output topic, send the consumed offsets, commit. Read-committed
 * consumer, one transactional producer, the processor's fetch settings (4 MiB per partition, 500 ms
 * max wait); produce requests are cut at 512 KiB like the processor's, since a fetched batch can be
 * larger than the broker's message.max.bytes.
 *
 * The client is stock kafkajs by default: what a team writing this loop with kafkajs gets. With
 * BENCH_PASSTHROUGH_CLIENT=tuned it is created by lib/kafka.ts's createKafka after the run-time changes
 * nylas-stream makes to kafkajs are applied (lib/kafkajs/: coordinator cache, pooled encoder buffers,
 * one-pass Produce encoder): the same loop on the processor's own client, a stricter reference.
 *
 * Env: KAFKA_BROKERS, TOPIC_RAW (input), BENCH_OUTPUT_TOPIC, BENCH_GROUP_ID, BENCH_PASSTHROUGH_CLIENT.
 */
import { Kafka, type Message } from 'kafkajs';
import { loadCommonConfig } from '../../../lib/config';
import { createKafka, kafkaJsOptions, TRANSACTIONAL_RETRY } from '../../../lib/kafka';
import { applyKafkajsAdaptations } from '../../../lib/kafkajs';
import { createLogger } from '../../../lib/logger';
import { serveParent } from '../lib/child';

const MAX_REQUEST_BYTES = 512 * 1024;

function chunks(messages: Message[]): Message[][] {
  const out: Message[][] = [];
  let current: Message[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = 64 + (m.value ? (m.value as Buffer).length : 0) + (m.key ? (m.key as Buffer).length : 0);
    if (current.length > 0 && bytes + size > MAX_REQUEST_BYTES) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(m);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

async function main(): Promise<void> {
  const config = loadCommonConfig(process.env);
  const output = String(process.env.BENCH_OUTPUT_TOPIC);
  const groupId = String(process.env.BENCH_GROUP_ID);
  const logger = createLogger({ name: 'bench-passthrough', level: config.logLevel });
  const tuned = process.env.BENCH_PASSTHROUGH_CLIENT === 'tuned';
  if (tuned) applyKafkajsAdaptations(logger);
  const kafka = tuned
    ? createKafka(config.kafka, logger, 'bench-passthrough')
    : new Kafka(kafkaJsOptions(config.kafka, logger, 'bench-passthrough'));
  const producer = kafka.producer({
    transactionalId: `${groupId}-passthrough`,
    idempotent: true,
    maxInFlightRequests: 1,
    retry: TRANSACTIONAL_RETRY,
  });
  await producer.connect();
  const consumer = kafka.consumer({
    groupId,
    readUncommitted: false,
    maxBytesPerPartition: 4 * 1024 * 1024,
    maxWaitTimeInMs: 500,
  });
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.connect();
  await consumer.subscribe({ topics: [config.topics.raw], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset }) => {
      if (batch.messages.length === 0) return;
      const messages: Message[] = batch.messages.map((m) => ({
        key: m.key,
        value: m.value,
        headers: m.headers,
        partition: batch.partition,
      }));
      const txn = await producer.transaction();
      try {
        for (const chunk of chunks(messages)) {
          await txn.send({ topic: output, acks: -1, messages: chunk });
        }
        await txn.sendOffsets({
          consumerGroupId: groupId,
          topics: [
            {
              topic: batch.topic,
              partitions: [
                { partition: batch.partition, offset: (BigInt(batch.lastOffset()) + 1n).toString() },
              ],
            },
          ],
        });
        await txn.commit();
      } catch (err) {
        await txn.abort().catch(() => undefined);
        throw err;
      }
      resolveOffset(batch.lastOffset());
    },
  });
  await joined;
  process.once('SIGTERM', () => {
    void Promise.allSettled([consumer.disconnect(), producer.disconnect()]).finally(() => process.exit(0));
  });
  serveParent(async () => undefined)();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
