/**
 * `tail TOPIC`: reads a topic for humans. Where it starts (the last N records per partition, or the
 * beginning) and where it stops (the end offsets seen at start, unless --follow) are decided up front,
 * so a tail without --follow always terminates, also on transactional topics where the last offsets
 * are commit markers rather than records.
 */
import { randomBytes } from 'node:crypto';
import type { Admin, Consumer, IHeaders, Kafka } from 'kafkajs';
import { RAW_HEADERS } from '../../lib/raw-record';
import { type OffsetRange, readToEnd } from '../../lib/read-to-end';
import { type AvroDecoder, type DecodedValue, decodeValue, headersAsStrings, toJson } from './decode';

export interface TailOptions {
  topic: string;
  /** Start at the earliest offset instead of the last `last` records of each partition. */
  fromBeginning: boolean;
  /** Records per partition to show before the end when not from the beginning. */
  last: number;
  /** Keep reading new records until stopped (signal). */
  follow: boolean;
  /** Only records whose key (the grant id) is this. */
  grant?: string;
  partition?: number;
  /** Stop after this many records (after filtering). */
  max?: number;
}

export interface TailRecord {
  topic: string;
  partition: number;
  offset: string;
  /** ISO-8601 of the record's timestamp. */
  timestamp: string;
  key: string | null;
  headers: Record<string, string>;
  decoded: DecodedValue;
}

export interface PartitionRange {
  partition: number;
  /** First offset to read. */
  start: number;
  /** Offset at which this partition counts as read (its end offset when the tail started). */
  end: number;
}

/** Where each partition starts and ends, from the topic's offsets at start. */
export function tailRanges(
  offsets: { partition: number; low: string; high: string }[],
  options: Pick<TailOptions, 'fromBeginning' | 'last' | 'partition'>,
): PartitionRange[] {
  return offsets
    .filter((o) => options.partition === undefined || o.partition === options.partition)
    .map((o) => {
      const low = Number(o.low);
      const high = Number(o.high);
      const start = options.fromBeginning ? low : Math.max(low, high - options.last);
      return { partition: o.partition, start, end: high };
    })
    .sort((a, b) => a.partition - b.partition);
}

/**
 * --last N counts records, not offsets. On a transactional topic commit (and abort) markers take
 * offsets, and aborted records are never shown: the last N offsets of a processor's output partition
 * hold about N/2 records, `--last 1` none at all. So each partition's window is widened (doubled)
 * until it holds N committed records or reaches the earliest offset, and the tail starts at the N-th
 * last record. Reads read_committed, like the tail itself; costs one extra read per doubling.
 */
export async function widenForRecords(
  deps: Pick<TailDeps, 'kafka' | 'admin'>,
  topic: string,
  ranges: readonly PartitionRange[],
  lows: ReadonlyMap<number, number>,
  last: number,
): Promise<PartitionRange[]> {
  if (last <= 0) return [...ranges];
  /** Per partition: the offsets of the records found so far (ascending), and where reading began. */
  const found = new Map(ranges.map((r) => [r.partition, { offsets: [] as number[], from: r.start }]));
  let todo: OffsetRange[] = ranges.filter((r) => r.start < r.end);
  while (todo.length > 0) {
    const older = new Map<number, number[]>(todo.map((r) => [r.partition, []]));
    await readToEnd(deps.kafka, deps.admin, { topic, ranges: todo }, (partition, m) => {
      older.get(partition)?.push(Number(m.offset));
    });
    const next: OffsetRange[] = [];
    for (const r of todo) {
      const f = found.get(r.partition) ?? { offsets: [], from: r.start };
      f.offsets = [...(older.get(r.partition) ?? []), ...f.offsets];
      f.from = r.start;
      const low = lows.get(r.partition) ?? 0;
      if (f.offsets.length >= last || r.start <= low) continue;
      // Double the window: look back as far again as everything read so far.
      const end = ranges.find((x) => x.partition === r.partition)?.end ?? r.end;
      next.push({ partition: r.partition, start: Math.max(low, r.start - (end - r.start)), end: r.start });
    }
    todo = next;
  }
  return ranges.map((r) => {
    const f = found.get(r.partition);
    if (f === undefined) return { ...r };
    const nth = f.offsets[f.offsets.length - last];
    return { ...r, start: nth ?? f.from };
  });
}

export interface TailDeps {
  kafka: Kafka;
  admin: Admin;
  registry: AvroDecoder | undefined;
}

/**
 * Reads `options.topic` and calls `onRecord` for each record that passes the filters, in order per
 * partition. Resolves with the number of records shown once every partition reached its end offset
 * (no --follow), `max` records were shown, or `signal` aborted.
 */
export async function tail(
  deps: TailDeps,
  options: TailOptions,
  onRecord: (r: TailRecord) => void,
  signal?: AbortSignal,
): Promise<number> {
  const offsets = await deps.admin.fetchTopicOffsets(options.topic);
  let ranges = tailRanges(offsets, options);
  if (options.partition !== undefined && ranges.length === 0) {
    throw new Error(`${options.topic} has no partition ${options.partition}`);
  }
  if (!options.fromBeginning) {
    const lows = new Map(offsets.map((o) => [o.partition, Number(o.low)]));
    ranges = await widenForRecords(deps, options.topic, ranges, lows, options.last);
  }
  const pending = new Map(ranges.filter((r) => r.start < r.end).map((r) => [r.partition, r.end]));
  if (!options.follow && pending.size === 0) return 0;

  // A throwaway group that never commits: the tail leaves no trace on what it reads.
  const groupId = `nylas-stream-tail-${randomBytes(6).toString('hex')}`;
  const consumer: Consumer = deps.kafka.consumer({
    groupId,
    maxWaitTimeInMs: 250,
    allowAutoTopicCreation: false,
  });
  let shown = 0;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const reached = (partition: number, nextOffset: number) => {
    const end = pending.get(partition);
    if (end !== undefined && nextOffset >= end) pending.delete(partition);
    if (!options.follow && pending.size === 0) finish();
  };
  const wanted = new Set(ranges.map((r) => r.partition));
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    const { topic, partition, lastOffset } = e.payload as {
      topic: string;
      partition: number;
      lastOffset: string;
    };
    if (topic === options.topic) reached(partition, Number(lastOffset) + 1);
  });
  signal?.addEventListener('abort', () => finish(), { once: true });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: options.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        if (!wanted.has(partition)) return;
        const end = pending.get(partition);
        // Past the end offset of a finished partition (without --follow): not part of this tail.
        if (!options.follow && end === undefined) return;
        if (!options.follow && Number(message.offset) >= (end ?? 0)) return;
        const key = message.key === null ? null : message.key.toString('utf8');
        if (options.grant !== undefined && key !== options.grant) return;
        if (options.max !== undefined && shown >= options.max) return;
        const headers: IHeaders = message.headers ?? {};
        onRecord({
          topic: options.topic,
          partition,
          offset: message.offset,
          timestamp: new Date(Number(message.timestamp)).toISOString(),
          key,
          headers: headersAsStrings(headers),
          decoded: await decodeValue(message.value, headers, deps.registry),
        });
        shown += 1;
        if (options.max !== undefined && shown >= options.max) finish();
      },
    });
    for (const r of ranges)
      consumer.seek({ topic: options.topic, partition: r.partition, offset: String(r.start) });
    await finished;
  } finally {
    await consumer.disconnect();
    await deps.admin.deleteGroups([groupId]).catch(() => undefined);
  }
  return shown;
}

/** The human form: a header line, then the value (pretty JSON, or text). */
export function formatTailRecord(r: TailRecord, withHeaders: boolean): string {
  const d = r.decoded;
  const kind =
    d.format === 'avro'
      ? `avro schema=${d.schemaId}`
      : d.format === 'binary'
        ? `binary${d.error ? ` (${d.error})` : ''}`
        : 'gzip' in d && d.gzip
          ? `${d.format} gzip`
          : d.format;
  const lines = [
    `${r.topic} [${r.partition}] @${r.offset}  ${r.timestamp}  key=${r.key ?? '(null)'}  ${kind}`,
  ];
  if (withHeaders && Object.keys(r.headers).length > 0) {
    const safe = { ...r.headers };
    // Signatures are secrets-adjacent; never print them.
    if (RAW_HEADERS.signature in safe) safe[RAW_HEADERS.signature] = '[redacted]';
    lines.push(`  headers ${toJson(safe)}`);
  }
  if (d.format === 'tombstone') lines.push('  (tombstone)');
  else if (d.format === 'text' || d.format === 'binary') lines.push(`  ${d.value}`);
  else lines.push(toJson(d.value, 2).replace(/^/gm, '  '));
  return lines.join('\n');
}

/** The --json form: one JSON object per line. */
export function tailRecordJson(r: TailRecord, withHeaders: boolean): string {
  const headers = { ...r.headers };
  if (RAW_HEADERS.signature in headers) headers[RAW_HEADERS.signature] = '[redacted]';
  return toJson({
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.key,
    ...(withHeaders ? { headers } : {}),
    format: r.decoded.format,
    ...(r.decoded.format === 'avro' ? { schemaId: r.decoded.schemaId } : {}),
    value: r.decoded.value,
  });
}
