/**
 * Compares what the pipeline produced with the simulator's oracle. Pure: everything is passed in.
 *
 * Definitions (per notification id n that Nylas considers delivered — at least one delivery answered 200):
 *
 *  - emitted:    a committed domain event whose nylas_notification_id is n.
 *  - dead-lettered: a committed DLQ record whose nylas-notification-id header is n, with the dlq-reason
 *                the run predicts for n (predictedDeadLetter: a truncated message whose fetch was answered
 *                429 beyond the expansion deadline → NYLAS_API_DEADLINE, or 401 because its grant had
 *                expired by the time of the fetch → NYLAS_API_UNAUTHORIZED). Any other DLQ record is
 *                "unpredicted": counted, and it excuses nothing, so a loss cannot hide in the DLQ.
 *  - superseded: n is not emitted because the pipeline's ordering rules made it stale, and what it said is
 *                represented downstream. Precisely: n carries version state (not a delivery result or a
 *                counter-less tracking signal) and, for n's object (grant, object type, object id as
 *                processors/stages/order.ts defines them), a committed domain event of ANOTHER notification
 *                with object_version ≥ version(n) exists; or n is a delete — or a `.truncated` message the
 *                API answered 404 for, which the expand stage turns into a delete ("gone"; each 404 the
 *                API really served for that message explains one notification at most) — and a delete
 *                of that object was emitted (a second delete carries nothing new).
 *  - lost:       none of the three. Also lost: a delivered notification missing from the raw topic (the
 *                ingress answered 200 without a durable write), and a notification Nylas dropped because
 *                the pipeline answered a status Nylas does not retry (e.g. 400/500 to a valid delivery).
 *  - duplicated: committed domain events beyond the first with the same event_id (read_committed).
 *  - non-monotone: objects whose emitted object_version ever goes down in emission (offset) order; only
 *                events with version state take part (as for "superseded").
 *  - final state: for every object of a world kind (message, event, calendar, contact, folder) whose LAST
 *                generated notification L was delivered, and whose final world state is the state L
 *                describes (else the world changed without a notification — held while a grant was
 *                invalid, §7 — and no webhook consumer can know it), the last committed event for the
 *                object must describe the world's final state (state digests, state.ts). Exceptions, each
 *                counted: L dead-lettered (the DLQ has it, with a reason); the last event is "gone" after
 *                a 404 the API really served for that message (the documented meaning of 404); the last
 *                event is another notification with L's exact version (a tie at the contract's 1-second
 *                resolution, §5, broken by arrival order as docs/architecture.md says).
 *  - retried as Nylas would: every delivery that never got a 200 has attempts 1..k with k = 3 and every
 *                answer a retried status (408/429/502/503/504/507), a timeout or a connection error — or
 *                stops at the first non-retried status; a delivery that ended in a 200 has only retried
 *                answers before it; attempt i+1 waited at least the backoff and the Retry-After of attempt i.
 */
import type { DeliveryAttempt, OracleReport } from '../../../simulator';
import { RETRIED_STATUSES } from '../../../simulator';
import type { DeadLetterRecord, EmittedEvent, PipelineOutputs } from './outputs';
import { KIND_OF_OBJECT_TYPE, stateDigest } from './state';
import type { Expectation, InjectedFaults } from './traffic';

export interface Verdict {
  sent: number;
  deliveries: number;
  duplicateDeliveries: number;
  attempts: number;
  acked: number;
  retried: number;
  notAckedByReason: Record<string, number>;
  rawRecords: number;
  deduped: number;
  emitted: number;
  emittedNotAcked: number;
  stale: number;
  expanded: number;
  goneOnExpand: number;
  dlqRecords: number;
  dlqByReason: Record<string, number>;
  /** DLQ records the run did not predict (no notification id, another reason, an id not injected). */
  unpredictedDeadLetters: number;
  lost: number;
  lostMissingFromRaw: number;
  droppedByNonRetriedStatus: number;
  duplicated: number;
  nonMonotone: number;
  finalChecked: number;
  finalMismatches: number;
  finalInDlq: number;
  finalGone: number;
  finalTies: number;
  finalSkippedNotAcked: number;
  finalSkippedHeld: number;
  retryRuleViolations: number;
  unsignedRawWrites: number;
  /** A few examples per failure, for the log. */
  examples: Record<string, string[]>;
}

export interface VerdictInput {
  report: OracleReport;
  expectations: ReadonlyMap<string, Expectation>;
  attempts: readonly DeliveryAttempt[];
  retryDelaysMs: readonly number[];
  outputs: PipelineOutputs;
  injected: InjectedFaults;
  /** How many 404s the API answered per message id (from its request log). */
  notFoundServed: ReadonlyMap<string, number>;
  /** Per message id, how many times the API answered its fetch 401 (the grant had expired by then). */
  unauthorizedServed?: ReadonlyMap<string, number>;
}

/** The DLQ reason the run's injected faults predict for a notification, or undefined (none expected). */
export function predictedDeadLetter(
  x: Expectation | undefined,
  injected: InjectedFaults,
  unauthorizedServed: ReadonlyMap<string, number> = new Map(),
): string | undefined {
  if (!x?.truncated || x.isDelete) return undefined;
  if (injected.beyondDeadline.has(x.object.objectId)) return 'NYLAS_API_DEADLINE';
  // The grant expired between the notification and the fetch (a processor far behind, as on three brokers
  // under faults): the API really answered 401, and the pipeline dead-letters it, re-drivable once the
  // grant is re-authenticated.
  if ((unauthorizedServed.get(x.object.objectId) ?? 0) > 0) return 'NYLAS_API_UNAUTHORIZED';
  return undefined;
}

function inc(r: Record<string, number>, k: string, by = 1): void {
  r[k] = (r[k] ?? 0) + by;
}

export function judge(input: VerdictInput): Verdict {
  const { report, expectations, outputs } = input;
  const examples: Record<string, string[]> = {};
  const example = (kind: string, text: string) => {
    const list = examples[kind] ?? [];
    if (list.length < 8) list.push(text);
    examples[kind] = list;
  };

  // ---- what the pipeline produced, indexed ------------------------------------------------------
  const byNotification = new Map<string, EmittedEvent[]>();
  const byObject = new Map<string, EmittedEvent[]>();
  /** Each event id's copies, in read order. */
  const eventIds = new Map<string, EmittedEvent[]>();
  const objectKeyOfEvent = (e: EmittedEvent) => JSON.stringify([e.grantId, e.objectType, e.objectId]);
  for (const e of outputs.events) {
    const list = byNotification.get(e.notificationId) ?? [];
    list.push(e);
    byNotification.set(e.notificationId, list);
    const copies = eventIds.get(e.eventId);
    if (copies) copies.push(e);
    else eventIds.set(e.eventId, [e]);
    if (e.stateless) continue;
    const k = objectKeyOfEvent(e);
    const o = byObject.get(k) ?? [];
    o.push(e);
    byObject.set(k, o);
  }
  for (const list of byObject.values())
    list.sort((a, b) =>
      a.partition !== b.partition ? a.partition - b.partition : a.offset < b.offset ? -1 : 1,
    );
  // Only predicted dead letters are indexed: an unpredicted one explains no missing event.
  const dlqByNotification = new Map<string, DeadLetterRecord[]>();
  const dlqByReason: Record<string, number> = {};
  let unpredictedDeadLetters = 0;
  for (const d of outputs.deadLetters) {
    inc(dlqByReason, d.reason);
    const predicted =
      d.notificationId === undefined
        ? undefined
        : predictedDeadLetter(expectations.get(d.notificationId), input.injected, input.unauthorizedServed);
    if (d.notificationId === undefined || predicted !== d.reason) {
      unpredictedDeadLetters += 1;
      example(
        'unpredicted dead letter',
        `${d.reason} (${d.stage}) ${d.notificationId ?? 'no notification id'}`,
      );
      continue;
    }
    const list = dlqByNotification.get(d.notificationId) ?? [];
    list.push(d);
    dlqByNotification.set(d.notificationId, list);
  }
  const rawIds = new Set<string>();
  let deduped = 0;
  let unsignedRawWrites = 0;
  for (const r of outputs.raw) {
    if (!r.signatureValid) unsignedRawWrites += 1;
    if (r.notificationId === undefined) continue;
    if (rawIds.has(r.notificationId)) deduped += 1;
    else rawIds.add(r.notificationId);
  }

  // ---- duplicated and non-monotone --------------------------------------------------------------
  let duplicated = 0;
  const duplicates: EmittedEvent[][] = [];
  for (const copies of eventIds.values()) {
    if (copies.length < 2) continue;
    duplicated += copies.length - 1;
    duplicates.push(copies);
  }
  // The examples say where each copy is, and where its notification is in the raw topic: enough to find
  // the rounds that wrote them in the processors' logs (a failure in CI leaves nothing else behind).
  const shown = duplicates.slice(0, 8);
  const wanted = new Set(shown.map((copies) => (copies[0] as EmittedEvent).notificationId));
  const rawAt = new Map<string, string[]>();
  for (const r of outputs.raw) {
    if (r.notificationId === undefined || !wanted.has(r.notificationId)) continue;
    const list = rawAt.get(r.notificationId) ?? [];
    list.push(`${r.partition}@${r.offset}`);
    rawAt.set(r.notificationId, list);
  }
  for (const copies of shown) {
    const first = copies[0] as EmittedEvent;
    const where = copies
      .map(
        (e) =>
          `${e.topic} ${e.partition}@${e.offset} at ${new Date(e.timestamp).toISOString().slice(11, 23)}`,
      )
      .join('; ');
    example(
      'duplicated',
      `event_id ${first.eventId} × ${copies.length} (${where}), notification ${first.notificationId} raw ${(rawAt.get(first.notificationId) ?? []).join(',')}`,
    );
  }
  let nonMonotone = 0;
  for (const [k, list] of byObject) {
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1] as EmittedEvent;
      const cur = list[i] as EmittedEvent;
      if (cur.version < prev.version) {
        nonMonotone += 1;
        example(
          'non-monotone',
          `${k}: ${prev.eventType} v${prev.version} (${prev.notificationId}) then ${cur.eventType} v${cur.version} (${cur.notificationId})`,
        );
        break;
      }
    }
  }

  // ---- lost ---------------------------------------------------------------------------------------
  // 404s served per message, minus those the emitted "gone" events already account for.
  const notFoundLeft = new Map(input.notFoundServed);
  for (const e of outputs.events)
    if (e.goneOnExpand) notFoundLeft.set(e.objectId, (notFoundLeft.get(e.objectId) ?? 0) - 1);
  let acked = 0;
  let lost = 0;
  let lostMissingFromRaw = 0;
  let stale = 0;
  let emittedNotAcked = 0;
  let droppedByNonRetriedStatus = 0;
  const notAckedByReason: Record<string, number> = {};
  const acknowledged = new Set<string>();
  for (const v of report.notifications) {
    if (!v.acknowledged) {
      inc(notAckedByReason, v.reason);
      if (v.reason === 'non_retriable_status') {
        droppedByNonRetriedStatus += 1;
        example('dropped by a non-retried status', `${v.type} ${v.id}`);
      }
      if (byNotification.has(v.id)) emittedNotAcked += 1;
      continue;
    }
    acked += 1;
    acknowledged.add(v.id);
    if (!rawIds.has(v.id)) {
      lostMissingFromRaw += 1;
      example('acked but not in the raw topic', `${v.type} ${v.id}`);
    }
    if (byNotification.has(v.id) || dlqByNotification.has(v.id)) continue;
    const x = expectations.get(v.id);
    if (x && !x.stateless) {
      const others = (
        byObject.get(JSON.stringify([x.grantId, x.object.objectType, x.object.objectId])) ?? []
      ).filter((e) => e.notificationId !== v.id);
      const newer = others.some((e) => e.version >= x.version);
      // A truncated message the API answered 404 for is a delete (expand stage: "404 means gone"); each
      // 404 served explains one such notification at most, so a fetch that succeeded cannot hide a loss.
      const goneByNotFound = x.truncated && !x.isDelete && (notFoundLeft.get(x.object.objectId) ?? 0) > 0;
      const deletedAlready = (x.isDelete || goneByNotFound) && others.some((e) => e.action === 'DELETED');
      if (newer || deletedAlready) {
        if (!newer && goneByNotFound)
          notFoundLeft.set(x.object.objectId, (notFoundLeft.get(x.object.objectId) ?? 0) - 1);
        stale += 1;
        continue;
      }
    }
    lost += 1;
    example('lost', `${v.type} ${v.id} (${x ? `${x.objectKey} v${x.version}` : 'no expectation'})`);
  }

  // ---- final state --------------------------------------------------------------------------------
  const finalByKey = new Map<string, { deleted: boolean; state: unknown }>();
  for (const f of report.finalState ?? []) finalByKey.set(`${f.grantId}\u0000${f.kind}\u0000${f.id}`, f);
  const lastByObject = new Map<string, Expectation>();
  for (const x of expectations.values()) {
    if (x.stateless || x.digest === undefined) continue;
    const prev = lastByObject.get(x.objectKey);
    if (!prev || prev.seq < x.seq) lastByObject.set(x.objectKey, x);
  }
  let finalChecked = 0;
  let finalMismatches = 0;
  let finalInDlq = 0;
  let finalGone = 0;
  let finalTies = 0;
  let finalSkippedNotAcked = 0;
  let finalSkippedHeld = 0;
  for (const [key, last] of lastByObject) {
    if (!acknowledged.has(last.id)) {
      finalSkippedNotAcked += 1;
      continue;
    }
    const kind = KIND_OF_OBJECT_TYPE[last.object.objectType];
    const world = kind
      ? finalByKey.get(`${last.grantId}\u0000${kind}\u0000${last.object.objectId}`)
      : undefined;
    if (!kind || !world) {
      finalSkippedHeld += 1;
      continue;
    }
    const worldDigest = stateDigest(last.object.objectType, world.deleted, world.state);
    if (worldDigest !== last.digest) {
      finalSkippedHeld += 1;
      continue;
    }
    finalChecked += 1;
    const events =
      byObject.get(JSON.stringify([last.grantId, last.object.objectType, last.object.objectId])) ?? [];
    const final = events[events.length - 1];
    if (final?.digest === worldDigest) continue;
    if (dlqByNotification.has(last.id) && final?.notificationId !== last.id) {
      finalInDlq += 1;
      continue;
    }
    if (final?.goneOnExpand && (input.notFoundServed.get(final.objectId) ?? 0) > 0) {
      finalGone += 1;
      continue;
    }
    if (final && final.notificationId !== last.id && final.version === last.version) {
      finalTies += 1;
      example('final-state tie', `${key}: last ${last.id} v${last.version}, emitted ${final.notificationId}`);
      continue;
    }
    finalMismatches += 1;
    example(
      'final-state mismatch',
      `${key}: world ${worldDigest} (last ${last.type} ${last.id} v${last.version}); emitted ${
        final ? `${final.eventType} ${final.notificationId} v${final.version} ${final.digest}` : 'nothing'
      }`,
    );
  }

  // ---- retried as Nylas would -------------------------------------------------------------------
  const byDelivery = new Map<number, DeliveryAttempt[]>();
  for (const a of input.attempts) {
    const list = byDelivery.get(a.delivery) ?? [];
    list.push(a);
    byDelivery.set(a.delivery, list);
  }
  let retryRuleViolations = 0;
  let retried = 0;
  const retriedIds = new Set<string>();
  const violation = (text: string) => {
    retryRuleViolations += 1;
    example('retry rule', text);
  };
  for (const list of byDelivery.values()) {
    list.sort((a, b) => a.attempt - b.attempt);
    const first = list[0] as DeliveryAttempt;
    if (list.length > 1) retriedIds.add(first.notificationId);
    list.forEach((a, i) => {
      if (a.attempt !== i + 1) violation(`${a.notificationId}: attempt ${a.attempt} at position ${i + 1}`);
      const retriable =
        a.result === 'timeout' ||
        a.result === 'connection_error' ||
        (a.status !== undefined && RETRIED_STATUSES.has(a.status));
      const last = i === list.length - 1;
      if (!last && a.verdict !== 'retry')
        violation(`${a.notificationId}: attempt ${a.attempt} ${a.verdict} yet retried`);
      if (a.verdict === 'retry' && !retriable)
        violation(`${a.notificationId}: status ${a.status} judged retriable`);
      if (last && a.verdict === 'retry' && list.length !== 3)
        violation(`${a.notificationId}: gave up after ${list.length} attempts`);
      if (i > 0) {
        const prev = list[i - 1] as DeliveryAttempt;
        const backoff = input.retryDelaysMs[Math.min(i - 1, input.retryDelaysMs.length - 1)] ?? 0;
        const wanted = Math.max(backoff, prev.retryAfterMs ?? 0);
        if (a.scheduledDelayMs < wanted)
          violation(
            `${a.notificationId}: attempt ${a.attempt} after ${a.scheduledDelayMs} ms < ${wanted} ms`,
          );
      }
    });
    if (list.length > 3) violation(`${first.notificationId}: ${list.length} attempts`);
  }
  retried = retriedIds.size;

  const expanded = outputs.events.filter((e) => e.expanded).length;
  const goneOnExpand = outputs.events.filter((e) => e.goneOnExpand).length;
  return {
    sent: report.summary.generated,
    deliveries: report.summary.deliveries,
    duplicateDeliveries: report.summary.duplicateDeliveries,
    attempts: report.summary.attempts,
    acked,
    retried,
    notAckedByReason,
    rawRecords: outputs.raw.length,
    deduped,
    emitted: outputs.events.length,
    emittedNotAcked,
    stale,
    expanded,
    goneOnExpand,
    dlqRecords: outputs.deadLetters.length,
    dlqByReason,
    unpredictedDeadLetters,
    lost: lost + lostMissingFromRaw + droppedByNonRetriedStatus,
    lostMissingFromRaw,
    droppedByNonRetriedStatus,
    duplicated,
    nonMonotone,
    finalChecked,
    finalMismatches,
    finalInDlq,
    finalGone,
    finalTies,
    finalSkippedNotAcked,
    finalSkippedHeld,
    retryRuleViolations,
    unsignedRawWrites,
    examples,
  };
}

function fmt(r: Record<string, number>): string {
  const entries = Object.entries(r).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? '0' : entries.map(([k, v]) => `${k} ${v}`).join(', ');
}

/** The summary table (two columns), as printed by the test. */
export function summaryTable(v: Verdict, title: string): string {
  const rows: Array<[string, string]> = [
    ['sent (generated notifications)', String(v.sent)],
    ['deliveries (incl. injected duplicates)', `${v.deliveries} (${v.duplicateDeliveries} duplicates)`],
    ['attempts', String(v.attempts)],
    ['acked (got a 200)', String(v.acked)],
    ['retried (notifications with >1 attempt)', String(v.retried)],
    ['not acked, by reason', fmt(v.notAckedByReason)],
    ['raw records written by the ingress', String(v.rawRecords)],
    ['deduped (raw records of an id already written)', String(v.deduped)],
    ['domain events committed', `${v.emitted} (${v.emittedNotAcked} of never-acked notifications)`],
    ['stale (superseded, not emitted)', String(v.stale)],
    ['expanded (truncated → fetched)', String(v.expanded)],
    ['gone on expand (404 → deleted)', String(v.goneOnExpand)],
    ['DLQ records, by reason', `${v.dlqRecords}: ${fmt(v.dlqByReason)}`],
    ['UNPREDICTED DLQ records', String(v.unpredictedDeadLetters)],
    [
      'LOST',
      `${v.lost} (not in raw ${v.lostMissingFromRaw}, dropped by a non-retried status ${v.droppedByNonRetriedStatus})`,
    ],
    ['DUPLICATED', String(v.duplicated)],
    ['NON-MONOTONE objects', String(v.nonMonotone)],
    [
      'FINAL-STATE MISMATCHES',
      `${v.finalMismatches} of ${v.finalChecked} checked (in DLQ ${v.finalInDlq}, gone after 404 ${v.finalGone}, 1-s ties ${v.finalTies}; skipped: last not acked ${v.finalSkippedNotAcked}, changed without notification ${v.finalSkippedHeld})`,
    ],
    ['RETRY-RULE VIOLATIONS', String(v.retryRuleViolations)],
    ['raw records without a valid signature', String(v.unsignedRawWrites)],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  const line = `+${'-'.repeat(w + 2)}+${'-'.repeat(72)}`;
  return [
    title,
    line,
    ...rows.map(([k, val]) => `| ${k.padEnd(w)} | ${val}`),
    line,
    ...Object.entries(v.examples).flatMap(([k, list]) => [`${k}:`, ...list.map((t) => `  - ${t}`)]),
  ].join('\n');
}
