/**
 * `backfill --status`: the backfill topic read to its end and folded by key, as compaction would leave
 * it. Per grant: the coordinator's state (the running backfill with its progress, the queued ones, the
 * last finished one and its outcome), and the inputs it has not applied yet (a request or a lifecycle
 * fact without a later tombstone; processors/backfill/records.ts). Folding is pure; reading reuses
 * read-to-end.ts (read_committed: the coordinator writes in transactions).
 */
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import { readToEnd } from '../../lib/read-to-end';
import { listingsOf } from '../../processors/backfill/listing';
import {
  type BackfillRequest,
  factKey,
  type GrantBackfillState,
  grantKey,
  parseGrantState,
  parseKey,
  parseRequest,
  parseValue,
  type RunningBackfill,
  requestKey,
} from '../../processors/backfill/records';
import { OpsRefusal } from './errors';

/** One record of the topic, as read. */
export interface BackfillTopicRecord {
  partition: number;
  offset: string;
  key: Buffer | string | null;
  value: Buffer | string | null;
  /** Epoch ms (the record's timestamp: when it was written). */
  timestamp: number;
}

export interface PendingRequest {
  request: BackfillRequest;
  partition: number;
  offset: string;
  writtenAt: number;
}

export interface GrantStatusView {
  grantId: string;
  /** Where its records are. */
  partition?: number;
  state?: GrantBackfillState;
  /** Requests written and not yet applied by the coordinator, oldest first. */
  pending: PendingRequest[];
  /** Request records the coordinator cannot apply, and why. */
  invalid: Array<{ id: string; partition: number; offset: string; why: string }>;
  /** Lifecycle facts not yet applied. */
  pendingFacts: number;
}

export interface BackfillStatus {
  topic: string;
  /** Records read (before folding). */
  records: number;
  /** Records whose key or value is not one of the topic's formats (written by something else). */
  unreadable: number;
  grants: GrantStatusView[];
}

/** The latest record per key, then grouped by grant. */
export function foldBackfillRecords(topic: string, records: Iterable<BackfillTopicRecord>): BackfillStatus {
  const latest = new Map<string, { r: BackfillTopicRecord; key: NonNullable<ReturnType<typeof parseKey>> }>();
  let read = 0;
  let unreadable = 0;
  for (const r of records) {
    read += 1;
    const key = parseKey(r.key);
    if (key === undefined) {
      unreadable += 1;
      continue;
    }
    // The ids a running backfill's whole listings returned so far: its working data, not its status.
    if (key.kind === 'listed') continue;
    // Keyed by the parsed key: the same key spelled with other JSON whitespace is still the same key.
    const canonical =
      key.kind === 'grant'
        ? grantKey(key.grantId)
        : key.kind === 'fact'
          ? factKey(key.grantId, key.id)
          : requestKey(key.grantId, key.id);
    latest.set(canonical, { r, key });
  }
  const views = new Map<string, GrantStatusView>();
  const view = (grantId: string, partition: number): GrantStatusView => {
    let v = views.get(grantId);
    if (v === undefined) {
      v = { grantId, partition, pending: [], invalid: [], pendingFacts: 0 };
      views.set(grantId, v);
    }
    return v;
  };
  for (const { r, key } of latest.values()) {
    const value = parseValue(r.value);
    if (value === null) continue; // a tombstone: applied (request, fact) or forgotten (grant)
    if (value === undefined) {
      unreadable += 1;
      continue;
    }
    if (key.kind === 'grant') {
      const state = parseGrantState(value);
      if (state === undefined) unreadable += 1;
      else view(key.grantId, r.partition).state = state;
    } else if (key.kind === 'fact') {
      view(key.grantId, r.partition).pendingFacts += 1;
    } else if (key.kind === 'request') {
      const request = parseRequest(value);
      const v = view(key.grantId, r.partition);
      if (typeof request === 'string')
        v.invalid.push({ id: key.id, partition: r.partition, offset: r.offset, why: request });
      else if (request.grantId !== key.grantId || request.id !== key.id)
        v.invalid.push({
          id: key.id,
          partition: r.partition,
          offset: r.offset,
          why: `its value names request ${request.id} of grant ${request.grantId}, its key ${requestKey(key.grantId, key.id)}`,
        });
      else v.pending.push({ request, partition: r.partition, offset: r.offset, writtenAt: r.timestamp });
    }
  }
  for (const v of views.values()) v.pending.sort((a, b) => a.writtenAt - b.writtenAt);
  return {
    topic,
    records: read,
    unreadable,
    grants: [...views.values()].sort((a, b) => a.grantId.localeCompare(b.grantId)),
  };
}

export async function readBackfillStatus(kafka: Kafka, admin: Admin, topic: string): Promise<BackfillStatus> {
  if (!(await admin.listTopics()).includes(topic))
    throw new OpsRefusal(`no such topic: ${topic} (create it with \`nylas-stream topics create\`)`);
  const records: BackfillTopicRecord[] = [];
  await readToEnd(kafka, admin, { topic }, (partition: number, m: KafkaMessage) => {
    records.push({ partition, offset: m.offset, key: m.key, value: m.value, timestamp: Number(m.timestamp) });
  });
  return foldBackfillRecords(topic, records);
}

// ---- output ---------------------------------------------------------------------------------------

function isoSeconds(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace('.000Z', 'Z');
}

function isoMs(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** "45s ago", "5m ago", "3h ago", "2d ago". */
export function ago(ms: number, now: number): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 2 * 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

/** Where a running backfill is: "listing 3/5 events (calendar 2 of 3), next page", as listing.ts walks it. */
function where(r: RunningBackfill): string {
  const listings = listingsOf(r.request.families);
  const name = listings[r.position.listing];
  if (name === undefined) return 'all listings done';
  const calendars = r.position.calendarIds?.length ?? 0;
  const calendar =
    name === 'events'
      ? ` (calendar ${Math.min((r.position.calendar ?? 0) + 1, calendars)} of ${calendars})`
      : '';
  return `listing ${r.position.listing + 1}/${listings.length} ${name}${calendar}, ${r.position.cursor === null ? 'first page' : 'next page'}`;
}

function describeRequest(r: BackfillRequest): string {
  return `${r.id} ${r.reason} ${isoSeconds(r.since)} … ${isoSeconds(r.until)} ${r.families.join(',')}`;
}

/** The grants to show: those asked for (also when the topic knows nothing of them), else all. */
function selected(status: BackfillStatus, grants: readonly string[]): GrantStatusView[] {
  if (grants.length === 0) return status.grants;
  return grants.map(
    (id) =>
      status.grants.find((g) => g.grantId === id) ?? {
        grantId: id,
        pending: [],
        invalid: [],
        pendingFacts: 0,
      },
  );
}

export function formatBackfillStatus(
  status: BackfillStatus,
  grants: readonly string[],
  now: number,
): string[] {
  const shown = selected(status, grants);
  const withState = shown.filter((g) => g.state !== undefined).length;
  const pending = shown.reduce((n, g) => n + g.pending.length, 0);
  const lines = [
    `backfill status of ${status.topic}: ${withState} grant(s) with a backfill state, ${pending} request(s) not yet ` +
      `applied (${status.records} record(s) read)`,
  ];
  for (const g of shown) {
    lines.push(`${g.grantId}${g.partition === undefined ? '' : ` (partition ${g.partition})`}`);
    const s = g.state;
    if (s?.running) {
      const r = s.running;
      lines.push(
        `  running    ${describeRequest(r.request)}: ${r.objects} object(s), ${r.pages} page(s), ${r.calls} call(s); ` +
          `${where(r)}; started ${isoMs(r.startedAt)} (${ago(r.startedAt, now)})`,
      );
      if (r.blocked !== undefined)
        lines.push(
          `  blocked    since ${isoMs(r.blocked.at)} (${ago(r.blocked.at, now)}): ${r.blocked.detail}; ` +
            "it resumes at the grant's re-authentication",
        );
    }
    for (const q of s?.queued ?? [])
      lines.push(`  queued     ${describeRequest(q)} (requested ${ago(q.requestedAt, now)})`);
    if (s?.last) {
      const l = s.last;
      lines.push(
        `  last       ${l.id} ${l.reason} ${l.outcome}${l.detail === undefined ? '' : ` (${l.detail})`}: ` +
          `${l.objects} object(s), ${l.deleted === undefined ? '' : `${l.deleted} deleted by reconciliation, `}` +
          `${l.calls} call(s); finished ${isoMs(l.finishedAt)} (${ago(l.finishedAt, now)})`,
      );
    }
    const lifecycle = [
      ...(s?.createdAt === undefined ? [] : [`created ${isoSeconds(s.createdAt)}`]),
      ...(s?.expiredAt === undefined ? [] : [`expired since ${isoSeconds(s.expiredAt)}`]),
      ...(s?.lastSyncAt === undefined ? [] : [`last sync ${isoSeconds(s.lastSyncAt)}`]),
      ...(s?.reauthenticatedAt === undefined ? [] : [`re-authenticated ${isoSeconds(s.reauthenticatedAt)}`]),
    ];
    if (lifecycle.length > 0) lines.push(`  lifecycle  ${lifecycle.join(', ')}`);
    for (const p of g.pending)
      lines.push(
        `  waiting    ${describeRequest(p.request)} (written ${ago(p.writtenAt, now)}, not yet applied; ` +
          `partition ${p.partition} offset ${p.offset})`,
      );
    for (const i of g.invalid)
      lines.push(`  invalid    request ${i.id} (partition ${i.partition} offset ${i.offset}): ${i.why}`);
    if (g.pendingFacts > 0) lines.push(`  facts      ${g.pendingFacts} lifecycle fact(s) not yet applied`);
    if (s === undefined && g.pending.length === 0 && g.invalid.length === 0 && g.pendingFacts === 0)
      lines.push('  nothing: no backfill state, no request waiting');
    else if (s !== undefined && !s.running && s.queued.length === 0 && g.pending.length === 0)
      lines.push('  idle');
  }
  if (status.unreadable > 0)
    lines.push(`${status.unreadable} record(s) are not backfill records (a key or value of another format)`);
  if (pending > 0)
    lines.push(
      'requests not yet applied wait for the backfill coordinator of the processor that owns their partition; ' +
        'one that waits for minutes means no processor runs there (look at the processors and their ' +
        'nylas_stream_backfill_* metrics)',
    );
  return lines;
}

export function backfillStatusJson(
  status: BackfillStatus,
  grants: readonly string[],
): Record<string, unknown> {
  return {
    topic: status.topic,
    records: status.records,
    unreadable: status.unreadable,
    grants: selected(status, grants).map((g) => ({
      grantId: g.grantId,
      ...(g.partition === undefined ? {} : { partition: g.partition }),
      state: g.state ?? null,
      pendingRequests: g.pending,
      invalidRequests: g.invalid,
      pendingFacts: g.pendingFacts,
    })),
  };
}
