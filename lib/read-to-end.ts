/**
 * Reads chosen partitions of a topic from their earliest offset up to the end offsets seen at start,
 * then stops: what redrive and replay --reset-state need ("everything there is now", not a stream), and
 * the backfill coordinator's takeover (processors/backfill/coordinator.ts).
 * With `ranges`, reads exactly those offset ranges instead (tail --last looks back with it).
 * A throwaway consumer group that never commits, deleted afterwards; read_committed, and progress is
 * followed through END_BATCH_PROCESS so a log ending in a transaction marker still completes.
 */
import { randomBytes } from 'node:crypto';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';

export interface ReadToEndOptions {
  topic: string;
  /** Partitions to read (all when omitted). */
  partitions?: number[];
  /** Give up after this long (a broker that stops answering must not hang a CLI forever). */
  timeoutMs?: number;
  /** Offset ranges [start, end) to read instead of each chosen partition from earliest to end (clamped
   * to the log). */
  ranges?: readonly OffsetRange[];
}

export interface OffsetRange {
  partition: number;
  start: number;
  end: number;
}

export async function readToEnd(
  kafka: Kafka,
  admin: Admin,
  options: ReadToEndOptions,
  onMessage: (partition: number, message: KafkaMessage) => void | Promise<void>,
): Promise<{ records: number; ends: Map<number, number> }> {
  const offsets = await admin.fetchTopicOffsets(options.topic);
  const logs = new Map(offsets.map((o) => [o.partition, { low: Number(o.low), high: Number(o.high) }]));
  const wanted: readonly OffsetRange[] =
    options.ranges ??
    offsets
      .filter((o) => options.partitions === undefined || options.partitions.includes(o.partition))
      .map((o) => ({ partition: o.partition, start: Number(o.low), end: Number(o.high) }));
  // Ranges are clamped to the log: what retention deleted or nobody wrote yet cannot be read.
  const chosen = wanted.map((r): OffsetRange => {
    const log = logs.get(r.partition) ?? { low: r.start, high: r.end };
    const start = Math.max(r.start, log.low);
    return { partition: r.partition, start, end: Math.max(start, Math.min(r.end, log.high)) };
  });
  const ends = new Map(chosen.map((r) => [r.partition, r.end]));
  const pending = new Map(chosen.filter((r) => r.start < r.end).map((r) => [r.partition, r.end]));
  if (pending.size === 0) return { records: 0, ends };

  const groupId = `nylas-stream-ops-${randomBytes(6).toString('hex')}`;
  // A bounded read fails on a crash rather than letting kafkajs restart the consumer behind it.
  const consumer = kafka.consumer({
    groupId,
    maxWaitTimeInMs: 250,
    allowAutoTopicCreation: false,
    retry: { retries: 5, restartOnFailure: async () => false },
  });
  let records = 0;
  let done: () => void = () => undefined;
  let fail: (err: Error) => void = () => undefined;
  const finished = new Promise<void>((resolve, reject) => {
    done = resolve;
    fail = reject;
  });
  // A crash during connect or run (a broker still loading its groups) rejects `finished` before it is
  // awaited: handled here so it is not an unhandled rejection; the read still fails with it below.
  finished.catch(() => undefined);
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
    for (const r of chosen)
      consumer.seek({ topic: options.topic, partition: r.partition, offset: String(r.start) });
    await finished;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
  return { records, ends };
}
