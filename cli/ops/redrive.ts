/**
 * `redrive`: puts dead letters back on the raw topic after a fix. A DLQ record is the original raw
 * record (same key, same value bytes, the ingress headers) plus `dlq-*` headers
 * (processors/dead-letter.ts); removing those makes it the delivery the ingress once wrote, so the
 * processor handles it like any other (dead letters are never remembered as "seen", so dedupe lets it
 * through). Filters by reason, time of dead-lettering and grant; dry run by default.
 */
import type { Admin, IHeaders, Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
import { decodeRawRecord } from '../../lib/raw-record';
import { readToEnd } from '../../lib/read-to-end';
import { DLQ_HEADER_PREFIX, DLQ_HEADERS } from '../../processors/dead-letter';
import {
  type AcceptWindow,
  recordBeyondWindow,
  WINDOW_OVERRIDE_HEADER,
} from '../../processors/stages/window';
import { table } from './context';
import { headerValue } from './decode';
import { OpsRefusal } from './errors';
import { parseDatetime } from './replay-plan';

export interface RedriveFilter {
  /** Reason codes (DeadLetterReason); all when empty. */
  reasons: string[];
  grant?: string;
  stage?: string;
  /** Dead-lettered at or after (epoch ms). */
  since?: number;
  /** Dead-lettered before (epoch ms). */
  until?: number;
}

export interface DeadLetterInfo {
  partition: number;
  offset: string;
  grant: string | null;
  reason: string;
  stage: string;
  redrivable: boolean;
  deadLetteredAt: number;
  notificationId: string | undefined;
  sourceTopic: string | undefined;
  sourcePartition: number | undefined;
  /** Why the processor would refuse it now (processors/stages/window.ts); undefined when inside. */
  beyondWindow?: string;
}

export function deadLetterInfo(partition: number, m: KafkaMessage): DeadLetterInfo {
  const h = m.headers;
  const at = Number(headerValue(h, DLQ_HEADERS.deadLetteredAt));
  const sourcePartition = headerValue(h, DLQ_HEADERS.sourcePartition);
  const raw = decodeRawRecord(m);
  return {
    partition,
    offset: m.offset,
    grant: raw.key ?? null,
    reason: headerValue(h, DLQ_HEADERS.reason) ?? 'UNKNOWN',
    stage: headerValue(h, DLQ_HEADERS.stage) ?? 'unknown',
    redrivable: headerValue(h, DLQ_HEADERS.redrivable) === 'true',
    deadLetteredAt: Number.isFinite(at) && at > 0 ? at : Number(m.timestamp),
    notificationId: raw.notificationId,
    sourceTopic: headerValue(h, DLQ_HEADERS.sourceTopic),
    sourcePartition: sourcePartition === undefined ? undefined : Number(sourcePartition),
  };
}

export function matchesFilter(d: DeadLetterInfo, f: RedriveFilter): boolean {
  if (f.reasons.length > 0 && !f.reasons.includes(d.reason)) return false;
  if (f.grant !== undefined && d.grant !== f.grant) return false;
  if (f.stage !== undefined && d.stage !== f.stage) return false;
  if (f.since !== undefined && d.deadLetteredAt < f.since) return false;
  if (f.until !== undefined && d.deadLetteredAt >= f.until) return false;
  return true;
}

/** The raw record again: key and value bytes unchanged, every header except the `dlq-*` ones; with
 * `overrideAt`, the `window-override-at` header that lets the processor accept it beyond the window. */
export function redriveMessage(
  m: KafkaMessage,
  d: DeadLetterInfo,
  targetTopic: string,
  partitions: number,
  overrideAt?: number,
): Message {
  const headers: IHeaders = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    if (!k.startsWith(DLQ_HEADER_PREFIX) && v !== undefined) headers[k] = v;
  }
  if (overrideAt !== undefined) headers[WINDOW_OVERRIDE_HEADER] = String(overrideAt);
  // Back to the partition it came from (where its grant's other notifications are), when that is the
  // topic we write to; otherwise the key decides, as for the ingress.
  const samePartition =
    d.sourceTopic === targetTopic && d.sourcePartition !== undefined && d.sourcePartition < partitions;
  return {
    key: m.key,
    value: m.value,
    headers,
    ...(samePartition ? { partition: d.sourcePartition } : {}),
  };
}

/**
 * Builds the filter from CLI options: `--reason`, `--grant`, `--since`, `--until` and the
 * `--filter key=value` form (reason, grant, stage, since, until).
 */
export function redriveFilterFromOptions(o: {
  filter: string[];
  reason: string[];
  grant?: string;
  since?: string;
  until?: string;
}): RedriveFilter {
  const f: RedriveFilter = { reasons: [...o.reason] };
  let since = o.since;
  let until = o.until;
  let grant = o.grant;
  for (const item of o.filter) {
    const eq = item.indexOf('=');
    const key = eq === -1 ? '' : item.slice(0, eq).trim();
    const value = eq === -1 ? '' : item.slice(eq + 1).trim();
    if (value === '')
      throw new OpsRefusal(`--filter expects key=value (reason, grant, stage, since, until), got "${item}"`);
    if (key === 'reason') f.reasons.push(...value.split(',').map((s) => s.trim()));
    else if (key === 'grant') grant = value;
    else if (key === 'stage') f.stage = value;
    else if (key === 'since') since = value;
    else if (key === 'until') until = value;
    else throw new OpsRefusal(`--filter: unknown key "${key}" (use reason, grant, stage, since or until)`);
  }
  if (grant !== undefined) f.grant = grant;
  if (since !== undefined) f.since = parseDatetime(since);
  if (until !== undefined) f.until = parseDatetime(until);
  f.reasons = [...new Set(f.reasons.filter(Boolean))];
  return f;
}

export interface RedriveSummary {
  scanned: number;
  matched: number;
  written: number;
  /** Matching records the processor would refuse as BEYOND_WINDOW now. */
  beyondWindow: number;
  /** Of those, left in the DLQ (no --beyond-window). */
  refused: number;
  byReason: Map<string, { records: number; redrivable: number }>;
  /** Each matching dead letter (for --list). */
  matches: DeadLetterInfo[];
}

export interface RedriveOptions {
  from: string;
  to: string;
  filter: RedriveFilter;
  execute: boolean;
  /** Stop after this many matching records. */
  limit?: number;
  /** The processor's ACCEPT_WINDOW/DEDUPE_WINDOW (processors/config.ts loadWindowConfig). */
  window: AcceptWindow;
  /** Put back records beyond the window too, marked with `window-override-at`. */
  beyondWindow: boolean;
  now?: () => number;
}

export async function redrive(kafka: Kafka, admin: Admin, o: RedriveOptions): Promise<RedriveSummary> {
  const topics = new Set(await admin.listTopics());
  for (const t of [o.from, o.to]) if (!topics.has(t)) throw new OpsRefusal(`no such topic: ${t}`);
  const targetPartitions = (await admin.fetchTopicOffsets(o.to)).length;
  const summary: RedriveSummary = {
    scanned: 0,
    matched: 0,
    written: 0,
    beyondWindow: 0,
    refused: 0,
    byReason: new Map(),
    matches: [],
  };
  const now = o.now ?? Date.now;
  let producer: Producer | undefined;
  let buffer: Message[] = [];
  const flush = async () => {
    if (producer === undefined || buffer.length === 0) return;
    const batch = buffer;
    buffer = [];
    await producer.send({ topic: o.to, acks: -1, messages: batch });
    summary.written += batch.length;
  };
  if (o.execute) {
    // Not idempotent on purpose: kafkajs wants unlimited retries for that, and a CLI must give up
    // when the broker is gone. A record duplicated by a retry is harmless: the processor dedupes by
    // notification id.
    producer = kafka.producer({ maxInFlightRequests: 1 });
    await producer.connect();
  }
  try {
    await readToEnd(kafka, admin, { topic: o.from }, async (partition, m) => {
      summary.scanned += 1;
      if (o.limit !== undefined && summary.matched >= o.limit) return;
      const d = deadLetterInfo(partition, m);
      if (!matchesFilter(d, o.filter)) return;
      summary.matched += 1;
      const at = now();
      const beyond = recordBeyondWindow(m, at, o.window);
      if (beyond !== undefined) {
        d.beyondWindow = beyond;
        summary.beyondWindow += 1;
        if (!o.beyondWindow) summary.refused += 1;
      }
      summary.matches.push(d);
      const r = summary.byReason.get(d.reason) ?? { records: 0, redrivable: 0 };
      r.records += 1;
      if (d.redrivable) r.redrivable += 1;
      summary.byReason.set(d.reason, r);
      if (beyond !== undefined && !o.beyondWindow) return;
      if (producer) {
        buffer.push(redriveMessage(m, d, o.to, targetPartitions, beyond === undefined ? undefined : at));
        if (buffer.length >= 500) await flush();
      }
    });
    await flush();
  } finally {
    await producer?.disconnect();
  }
  return summary;
}

export function formatRedriveSummary(o: RedriveOptions, s: RedriveSummary, list: boolean): string[] {
  const lines = [`redrive ${o.from} → ${o.to}${o.execute ? '' : ' (dry run)'}`];
  if (list && s.matches.length > 0) {
    const rows = [
      ['partition', 'offset', 'dead-lettered at', 'reason', 'stage', 'grant', 'notification', 'window'],
    ];
    for (const d of s.matches) {
      rows.push([
        String(d.partition),
        d.offset,
        new Date(d.deadLetteredAt).toISOString(),
        d.reason,
        d.stage,
        d.grant ?? '-',
        d.notificationId ?? '-',
        d.beyondWindow === undefined ? 'inside' : 'beyond',
      ]);
    }
    lines.push(...table(rows));
  }
  const rows = [['reason', 'records', 'redrivable']];
  for (const [reason, r] of [...s.byReason.entries()].sort())
    rows.push([reason, String(r.records), String(r.redrivable)]);
  lines.push(...table(rows));
  lines.push(`scanned ${s.scanned} dead letter(s), ${s.matched} match the filters`);
  if (s.beyondWindow > 0) {
    lines.push(
      `${s.beyondWindow} of them lie beyond the processor's acceptance window (ACCEPT_WINDOW ${o.window.acceptWindowMs} ms): ` +
        (o.beyondWindow
          ? 'put back with the window-override-at header (--beyond-window): the processor accepts them, still deduplicated and ordered'
          : 'refused, left in the DLQ (the processor would dead-letter them again as BEYOND_WINDOW); add --beyond-window to put them back anyway'),
    );
  }
  const toWrite = s.matched - s.refused;
  lines.push(
    o.execute
      ? `wrote ${s.written} record(s) to ${o.to}`
      : `dry run: nothing written; add --execute to put ${toWrite} record(s) back on ${o.to}`,
  );
  return lines;
}
