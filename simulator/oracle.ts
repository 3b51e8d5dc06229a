/**
 * The oracle report: what was generated, what Nylas would consider acknowledged (a delivery answered
 * 200, §2.1), and the expected final state of every object. End-to-end tests and benchmarks compare
 * the pipeline's output with it; `nylas-stream simulate send --report` writes it as JSON.
 *
 * Two expectations are given per object, because they differ on purpose:
 *  - `finalState`: the truth (what the API serves now), including changes never notified (held while a
 *    grant was invalid beyond 72 hours, §7) or notified but dropped after 3 attempts (§2.3);
 *  - `expectedLatest`: the newest *acknowledged* notification about the object, i.e. the latest state a
 *    correct pipeline can have emitted from the webhooks alone (without re-fetching).
 *
 * `listableState` is a third view, for a receiver that recovers a grant's outage through the list
 * endpoints (§7): what those endpoints can reveal of the world's current state for a time window.
 */
import { writeFile } from 'node:fs/promises';
import type { GeneratedNotification } from './payloads/generator';
import type { DeliveryOutcome, OutcomeReason } from './sender/sender';
import type { GrantRecord, NylasObject, ObjectKind } from './world/types';
import type { FinalObjectState, World } from './world/world';

/** What the oracle keeps of a generated notification (no envelope, so 200 000 of them stay small). */
export interface NotificationRecord {
  seq: number;
  id: string;
  type: string;
  baseType: string;
  grantId: string;
  objectKind?: ObjectKind;
  objectId?: string;
  version?: GeneratedNotification['version'];
  truncated: boolean;
  backfill: boolean;
}

export function recordOf(n: GeneratedNotification): NotificationRecord {
  const r: NotificationRecord = {
    seq: n.seq,
    id: n.envelope.id,
    type: n.envelope.type,
    baseType: n.baseType,
    grantId: n.grantId,
    truncated: n.truncated,
    backfill: n.backfill,
  };
  if (n.ref) {
    r.objectKind = n.ref.kind;
    r.objectId = n.ref.id;
  }
  if (n.version) r.version = n.version;
  return r;
}

export interface NotificationVerdict extends NotificationRecord {
  acknowledged: boolean;
  /** Deliveries (more than one when a duplicate was injected). */
  deliveries: number;
  attempts: number;
  /** The best outcome across deliveries (`delivered` if any delivery was). */
  reason: OutcomeReason | 'not_sent';
}

export interface ExpectedLatest {
  grantId: string;
  kind: ObjectKind;
  id: string;
  notificationId: string;
  type: string;
  seq: number;
  deleted: boolean;
}

export interface OracleReport {
  generatedAt: string;
  seed: number;
  applicationId: string;
  summary: {
    generated: number;
    acknowledged: number;
    notAcknowledged: number;
    deliveries: number;
    duplicateDeliveries: number;
    attempts: number;
    truncated: number;
    backfill: number;
    byReason: Record<string, number>;
    byType: Record<string, { generated: number; acknowledged: number }>;
  };
  grants: GrantRecord[];
  notifications: NotificationVerdict[];
  expectedLatest: ExpectedLatest[];
  finalState?: FinalObjectState[];
}

export interface OracleInput {
  world: World;
  generated: readonly (NotificationRecord | GeneratedNotification)[];
  outcomes: readonly DeliveryOutcome[];
  /** Include the world's final state of every object (default true; large for big runs). */
  includeFinalState?: boolean;
  now?: Date;
}

export function buildOracleReport(input: OracleInput): OracleReport {
  const records = input.generated.map((g) => ('envelope' in g ? recordOf(g) : g));
  const byId = new Map<string, DeliveryOutcome[]>();
  for (const o of input.outcomes) {
    const list = byId.get(o.notificationId) ?? [];
    list.push(o);
    byId.set(o.notificationId, list);
  }
  const byReason: Record<string, number> = {};
  const byType: Record<string, { generated: number; acknowledged: number }> = {};
  const verdicts: NotificationVerdict[] = records.map((r) => {
    const outs = byId.get(r.id) ?? [];
    const acknowledged = outs.some((o) => o.delivered);
    const reason: NotificationVerdict['reason'] = acknowledged
      ? 'delivered'
      : (outs[0]?.reason ?? 'not_sent');
    byReason[reason] = (byReason[reason] ?? 0) + 1;
    const t = byType[r.type] ?? { generated: 0, acknowledged: 0 };
    byType[r.type] = t;
    t.generated += 1;
    if (acknowledged) t.acknowledged += 1;
    return {
      ...r,
      acknowledged,
      deliveries: outs.length,
      attempts: outs.reduce((a, o) => a + o.attempts, 0),
      reason,
    };
  });

  // Newest acknowledged notification per object, in the order the changes happened (seq).
  const latest = new Map<string, ExpectedLatest>();
  for (const v of verdicts) {
    if (!v.acknowledged || v.objectKind === undefined || v.objectId === undefined) continue;
    const key = `${v.grantId}\u0000${v.objectKind}\u0000${v.objectId}`;
    const prev = latest.get(key);
    if (prev && prev.seq > v.seq) continue;
    latest.set(key, {
      grantId: v.grantId,
      kind: v.objectKind,
      id: v.objectId,
      notificationId: v.id,
      type: v.type,
      seq: v.seq,
      deleted: v.baseType.endsWith('.deleted'),
    });
  }

  const acknowledged = verdicts.filter((v) => v.acknowledged).length;
  const report: OracleReport = {
    generatedAt: (input.now ?? new Date()).toISOString(),
    seed: input.world.seed,
    applicationId: input.world.applicationId,
    summary: {
      generated: records.length,
      acknowledged,
      notAcknowledged: records.length - acknowledged,
      deliveries: input.outcomes.length,
      duplicateDeliveries: input.outcomes.filter((o) => o.duplicate).length,
      attempts: input.outcomes.reduce((a, o) => a + o.attempts, 0),
      truncated: records.filter((r) => r.truncated).length,
      backfill: records.filter((r) => r.backfill).length,
      byReason,
      byType,
    },
    grants: input.world.listGrants(),
    notifications: verdicts,
    expectedLatest: [...latest.values()].sort((a, b) => a.seq - b.seq),
  };
  if (input.includeFinalState !== false) report.finalState = input.world.finalState();
  return report;
}

export async function writeOracleReport(path: string, report: OracleReport): Promise<void> {
  await writeFile(path, `${JSON.stringify(report, null, 1)}\n`, 'utf8');
}

/** A §7 recovery window in Unix seconds, both ends inclusive as the list filters are
 * (`received_after`/`received_before`, `updated_after`/`updated_before`). */
export interface ListWindow {
  /** Usually `grant_updated_at` of the grant.expired (the last successful sync). */
  after: number;
  /** Usually the re-authentication (the grant.updated's `time`, or the list responses' `Date`). */
  before: number;
}

/** Live objects of one grant the list endpoints serve for a window, without message bodies, by id. */
export interface ListableState {
  /** Received (`date`) in the window and still existing. */
  messages: NylasObject[];
  /** Updated in the window, cancelled ones included (`show_cancelled=true`), in a live calendar
   * (events are listed per calendar, after listing the calendars). */
  events: NylasObject[];
  /** The filters-less collections: every live object. */
  calendars: NylasObject[];
  contacts: NylasObject[];
  folders: NylasObject[];
}

/**
 * What the Nylas list endpoints can reveal of a grant's current state for a window (§7): messages
 * received in it that still exist, events updated in it (cancelled included) per live calendar, and
 * every live contact, calendar and folder. Changes the lists cannot show are absent by design: an old
 * message moved or deleted during the window (messages filter on receipt time), and deleted objects.
 * It reads the world now, so call it when the state to compare with was read (e.g. right after the
 * backfill, before later traffic changes the grant). It mirrors the filters of api/grants-routes.ts.
 */
export function listableState(world: World, grantId: string, window: ListWindow): ListableState {
  if (!world.peekGrant(grantId)) throw new RangeError(`unknown grant ${grantId}`);
  const inWindow = (v: unknown): boolean => typeof v === 'number' && v >= window.after && v <= window.before;
  const live = (kind: ObjectKind): NylasObject[] =>
    world
      .listObjects(grantId, kind, { withBodies: false })
      .sort((a, b) => String(a.id).localeCompare(String(b.id)));
  const calendars = live('calendars');
  const calendarIds = new Set(calendars.map((c) => c.id));
  return {
    messages: live('messages').filter((m) => inWindow(m.date)),
    events: live('events').filter((e) => calendarIds.has(e.calendar_id) && inWindow(e.updated_at)),
    calendars,
    contacts: live('contacts'),
    folders: live('folders'),
  };
}
