/**
 * Reads chosen partitions of a topic from their earliest offset up to the end offsets seen at start,
 * then stops: what redrive and replay --reset-state need ("everything there is now", not a stream).
 * A throwaway consumer group that never commits, deleted afterwards; read_committed, and progress is
 * followed through END_BATCH_PROCESS so a log ending in a transaction marker still completes.
 */
import { randomBytes } from 'node:crypto';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';

export interface ReadToEndOptions {
  topic: string;
  /** Partitions to read (all when omitted). */
  partitions?: number[];
  /** Per partition, read only offsets in [from, to) (clamped to the log; the whole log when absent). */
  ranges?: Map<number, { from: number; to: number }>;
  /** Give up after this long (a broker that stops answering must not hang a CLI forever). */
  timeoutMs?: number;
}

export async function readToEnd(
  kafka: Kafka,
  admin: Admin,
  options: ReadToEndOptions,
  onMessage: (partition: number, message: KafkaMessage) => void | Promise<void>,
): Promise<{ records: number; ends: Map<number, number> }> {
  const offsets = await admin.fetchTopicOffsets(options.topic);
  const chosen = offsets.filter(
    (o) => options.partitions === undefined || options.partitions.includes(o.partition),
  );
  const bounds = new Map(
    chosen.map((o) => {
      const r = options.ranges?.get(o.partition);
      const low = Math.max(Number(o.low), r?.from ?? 0);
      return [o.partition, { low, high: Math.max(low, Math.min(Number(o.high), r?.to ?? Infinity)) }];
    }),
  );
  const ends = new Map([...bounds].map(([p, b]) => [p, b.high]));
  const pending = new Map([...bounds].filter(([, b]) => b.low < b.high).map(([p, b]) => [p, b.high]));
  if (pending.size === 0) return { records: 0, ends };

  const groupId = `nylas-stream-ops-${randomBytes(6).toString('hex')}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 250, allowAutoTopicCreation: false });
  let records = 0;
  let done: () => void = () => undefined;
  let fail: (err: Error) => void = () => undefined;
  const finished = new Promise<void>((resolve, reject) => {
    done = resolve;
    fail = reject;
  });
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    const { topic, partition, lastOffset } = e.payload as {
      topic: string;
      partition: number;
      lastOffset: string;
    };
    const end = pending.get(partition);
    if (topic === options.topic && end !== undefined && Number(lastOffset) + 1 >= end)
      pending.delete(partition);
    if (pending.size === 0) done();
  });
  consumer.on(consumer.events.CRASH, (e) => fail(e.payload.error));
  const timer = setTimeout(
    () =>
      fail(
        new Error(
          `reading ${options.topic} did not reach its end offsets within ${options.timeoutMs ?? 120_000} ms`,
        ),
      ),
    options.timeoutMs ?? 120_000,
  );
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: options.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const end = ends.get(partition);
        if (end === undefined || Number(message.offset) >= end) return;
        records += 1;
        await onMessage(partition, message);
      },
    });
    for (const [partition, b] of bounds)
      consumer.seek({ topic: options.topic, partition, offset: String(b.low) });
    await finished;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
  return { records, ends };
}
