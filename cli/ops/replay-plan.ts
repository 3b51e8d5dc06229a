/**
 * The replay plan: for each partition of each topic a consumer group reads, where the group is
 * (committed offset), where it will be (target), and what that means in records. Pure, so what the
 * dry run prints is exactly what --execute applies.
 */
import { parseDuration } from '../../lib/config';
import { table } from './context';
import { OpsRefusal } from './errors';

export type ReplayTarget =
  | { kind: 'earliest' }
  | { kind: 'latest' }
  | { kind: 'datetime'; at: number }
  | { kind: 'shift'; by: number };

export interface PartitionState {
  topic: string;
  partition: number;
  /** The group's committed offset, or null when it never committed on this partition. */
  committed: number | null;
  /** Earliest offset still in the log. */
  low: number;
  /** End offset (next offset to be written). */
  high: number;
  /** First offset with a timestamp at or after the target datetime (the end when none): datetime only. */
  atTimestamp?: number;
}

export interface PlanRow {
  topic: string;
  partition: number;
  current: number | null;
  target: number;
  low: number;
  high: number;
  /** Records the group processed already and will process again. */
  reprocess: number;
  /** Records the group has not processed yet and will now never process (a move forward). */
  skip: number;
  /** Of the records to reprocess, those the processor would refuse as BEYOND_WINDOW (its raw topic only). */
  beyondWindow?: number;
}

export interface ReplayPlan {
  groupId: string;
  target: ReplayTarget;
  rows: PlanRow[];
}

/** Parses the mutually exclusive --to-* / --shift-by options into one target. */
export function replayTargetFromOptions(o: {
  toDatetime?: string;
  toEarliest?: boolean;
  toLatest?: boolean;
  shiftBy?: string;
}): ReplayTarget {
  const given = [
    o.toDatetime !== undefined,
    o.toEarliest === true,
    o.toLatest === true,
    o.shiftBy !== undefined,
  ];
  if (given.filter(Boolean).length !== 1) {
    throw new OpsRefusal('give exactly one of --to-datetime, --to-earliest, --to-latest, --shift-by');
  }
  if (o.toEarliest) return { kind: 'earliest' };
  if (o.toLatest) return { kind: 'latest' };
  if (o.shiftBy !== undefined) {
    if (!/^[+-]?\d+$/.test(o.shiftBy.trim()))
      throw new OpsRefusal(
        `--shift-by expects a signed number of records per partition (e.g. -500), got "${o.shiftBy}"`,
      );
    return { kind: 'shift', by: Number(o.shiftBy) };
  }
  return { kind: 'datetime', at: parseDatetime(o.toDatetime ?? '') };
}

/**
 * An ISO-8601 date-time ("2026-01-31T12:00:00Z"; without a zone it is UTC), epoch milliseconds, or a
 * duration ago ("2h", "30m", "1d").
 */
export function parseDatetime(value: string, now: number = Date.now()): number {
  const v = value.trim();
  if (/^\d{12,}$/.test(v)) return Number(v);
  const ago = /^\d/.test(v) && !/[-:T]/.test(v) ? parseDuration(v) : undefined;
  if (ago !== undefined) return now - ago;
  const iso = /[zZ]|[+-]\d\d:?\d\d$/.test(v) || !v.includes('T') ? v : `${v}Z`;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) {
    throw new OpsRefusal(
      `--to-datetime expects an ISO-8601 date-time (2026-01-31T12:00:00Z), epoch milliseconds or a duration ago (2h), got "${value}"`,
    );
  }
  return t;
}

function clamp(n: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, n));
}

export function targetOffset(p: PartitionState, target: ReplayTarget): number {
  switch (target.kind) {
    case 'earliest':
      return p.low;
    case 'latest':
      return p.high;
    case 'datetime':
      return clamp(p.atTimestamp ?? p.high, p.low, p.high);
    case 'shift':
      // A partition the group never committed on counts as read to the end (nothing to re-read).
      return clamp((p.committed ?? p.high) + target.by, p.low, p.high);
  }
}

export function planReplay(groupId: string, partitions: PartitionState[], target: ReplayTarget): ReplayPlan {
  const rows = partitions
    .map((p): PlanRow => {
      const t = targetOffset(p, target);
      // A committed offset older than the log's start reads from the start anyway.
      const current = p.committed === null ? null : clamp(p.committed, p.low, p.high);
      return {
        topic: p.topic,
        partition: p.partition,
        current: p.committed,
        target: t,
        low: p.low,
        high: p.high,
        reprocess: current === null ? 0 : Math.max(0, current - t),
        // Never committed: where it would start depends on the consumer's reset policy, so unknown.
        skip: current === null ? 0 : Math.max(0, t - current),
      };
    })
    .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  return { groupId, target, rows };
}

export function describeTarget(t: ReplayTarget): string {
  switch (t.kind) {
    case 'earliest':
      return 'the earliest offsets';
    case 'latest':
      return 'the latest offsets';
    case 'datetime':
      return `the first records at or after ${new Date(t.at).toISOString()}`;
    case 'shift':
      return `${t.by >= 0 ? '+' : ''}${t.by} records from the committed offsets`;
  }
}

/** Total of the records to reprocess that lie beyond the processor's acceptance window. */
export function beyondWindowTotal(plan: ReplayPlan): number {
  return plan.rows.reduce((n, r) => n + (r.beyondWindow ?? 0), 0);
}

export function formatPlan(plan: ReplayPlan): string[] {
  const counted = plan.rows.some((r) => r.beyondWindow !== undefined);
  const rows = [
    ['topic', 'partition', 'current', 'target', 'reprocess', 'skip', ...(counted ? ['beyond window'] : [])],
  ];
  for (const r of plan.rows) {
    rows.push([
      r.topic,
      String(r.partition),
      r.current === null ? '-' : String(r.current),
      String(r.target),
      String(r.reprocess),
      String(r.skip),
      ...(counted ? [String(r.beyondWindow ?? 0)] : []),
    ]);
  }
  const reprocess = plan.rows.reduce((n, r) => n + r.reprocess, 0);
  const skip = plan.rows.reduce((n, r) => n + r.skip, 0);
  return [
    `replay plan for group "${plan.groupId}": move to ${describeTarget(plan.target)}`,
    ...table(rows),
    `total: ${reprocess} record(s) to reprocess${counted ? ` (${beyondWindowTotal(plan)} beyond the acceptance window)` : ''}, ${skip} to skip, ${changedRows(plan).length} partition(s) change`,
    ...(plan.rows.some((r) => r.current === null)
      ? ['(current "-": the group never committed there; it starts where its consumer\'s reset policy says)']
      : []),
  ];
}

/** Rows whose committed offset changes (what --execute writes). */
export function changedRows(plan: ReplayPlan): PlanRow[] {
  return plan.rows.filter((r) => r.current !== r.target);
}
