/**
 * A mixed workload for the processor state tests (test/integration/processors/state/), and the verdicts
 * they draw from a read_committed domain topic: nothing emitted twice, no older version after a newer one.
 *
 * The workload is message notifications on a few objects per grant, in steps: created, updated with
 * increasing envelope times (a message's version is its envelope time, processors/stages/order.ts),
 * redeliveries of earlier notifications (same id, next attempt), and for some objects a delete. Per object
 * the times only increase from step to step, so however the processor cuts the steps into transactions,
 * every distinct notification is emitted exactly once (`emitted`) and every redelivery is a duplicate.
 * Objects end at different steps, so a state change made by any one transaction may be the object's last.
 */
import type { Message } from 'kafkajs';
import { objectKeyString } from '../../processors/object-identity';
import { type CollectedRecord, headerString, pollUntil, type TopicCollector, uniqueName } from './kafka';
import { type DecodedEvent, decodeDomainEvent, type ProcessorHarness } from './processor-harness';
import { messageNotification, RECENT_TIME, rawMessage } from './raw-notifications';

export type Action = 'created' | 'updated' | 'deleted';

/** One notification as sent to the raw topic. */
export interface Sent {
  id: string;
  grantId: string;
  messageId: string;
  action: Action;
  /** Envelope time (Unix seconds): the message's version, in seconds. */
  time: number;
  attempt: number;
  /** The raw partition, when the test places grants itself. */
  partition?: number;
}

export interface TrackedObject {
  grantId: string;
  messageId: string;
  partition?: number;
  /** Its last notification in the workload. */
  last: Sent;
}

export interface Workload {
  /** Notifications in send order, grouped in steps (each step depends on the previous being sent). */
  steps: Sent[][];
  /** Ids of the notifications the processor must emit (every distinct one: redeliveries excluded). */
  emitted: Set<string>;
  objects: TrackedObject[];
}

/** `count` new grant ids, grant g on raw partition g mod `partitions` (placed by the test, so every
 * partition has grants whatever the ids hash to). */
export function grantsOver(count: number, partitions: number) {
  return {
    grants: Array.from({ length: count }, (_, i) => uniqueName(`g${i}`)),
    partitionOf: (g: number) => g % partitions,
  };
}

export function sentMessage(s: Sent): Message {
  const body = messageNotification(s.grantId, {
    id: s.id,
    messageId: s.messageId,
    action: s.action,
    time: s.time,
    attempt: s.attempt,
  });
  const m = rawMessage({ grantId: s.grantId, body });
  return s.partition === undefined ? m : { ...m, partition: s.partition };
}

/** The same notification delivered again (Nylas's retry: same id, next attempt). */
export function redelivery(s: Sent): Sent {
  return { ...s, attempt: s.attempt + 1 };
}

/**
 * `objectsPerGrant` objects on each grant; `partitionOf(grantIndex)` places a grant's records (omit to
 * let the producer's partitioner do it). Object j: created at +0 s; updated at +10 s; j % 3 ≥ 1: the
 * update redelivered and updated at +20 s; j % 3 = 2: deleted (j even) or updated (j odd) at +30 s, and
 * the +10 s update redelivered once more.
 */
export function mixedWorkload(
  prefix: string,
  grants: string[],
  objectsPerGrant: number,
  partitionOf?: (grantIndex: number) => number,
): Workload {
  const steps: Sent[][] = [[], [], [], []];
  const emitted = new Set<string>();
  const objects: TrackedObject[] = [];
  grants.forEach((grantId, g) => {
    const partition = partitionOf?.(g);
    for (let j = 0; j < objectsPerGrant; j++) {
      const messageId = `${prefix}-m${g}-${j}`;
      const make = (step: number, action: Action, dt: number): Sent => {
        const s: Sent = {
          id: `${messageId}-s${step}`,
          grantId,
          messageId,
          action,
          time: RECENT_TIME + dt,
          attempt: 1,
        };
        return partition === undefined ? s : { ...s, partition };
      };
      const created = make(0, 'created', 0);
      const updated = make(1, 'updated', 10);
      const seq: Array<[number, Sent]> = [
        [0, created],
        [1, updated],
      ];
      if (j % 3 >= 1) seq.push([2, redelivery(updated)], [2, make(2, 'updated', 20)]);
      if (j % 3 === 2) {
        seq.push([3, make(3, j % 2 === 0 ? 'deleted' : 'updated', 30)], [3, redelivery(redelivery(updated))]);
      }
      for (const [step, s] of seq) {
        steps[step]?.push(s);
        if (s.attempt === 1) emitted.add(s.id);
      }
      const last = seq.filter(([, s]) => s.attempt === 1).at(-1)?.[1] ?? created;
      objects.push({ grantId, messageId, last, ...(partition === undefined ? {} : { partition }) });
    }
  });
  return { steps, emitted, objects };
}

/** An update of `o` older than its last state (a new notification id): the processor must find it stale.
 * `olderBy` 0 on a deleted object: an update of the delete's own version, which only the tombstone stops
 * (processors/stages/order.ts: after a delete only a strictly newer state is emitted). */
export function staleUpdate(o: TrackedObject, id: string, olderBy = 5): Sent {
  const s: Sent = {
    id,
    grantId: o.grantId,
    messageId: o.messageId,
    action: 'updated',
    time: o.last.time - olderBy,
    attempt: 1,
  };
  return o.partition === undefined ? s : { ...s, partition: o.partition };
}

/** The store key of a message object (objectKeyString, as the order stage looks it up). */
export function messageKey(grantId: string, messageId: string): string {
  return objectKeyString({ grantId, objectType: 'message', objectId: messageId });
}

export function notificationId(r: CollectedRecord): string {
  return headerString(r.headers, 'nylas-notification-id') ?? '';
}

/** What a domain topic shows, with everything the verdicts found wrong (empty lists: all is well). */
export interface OutputVerdict {
  events: DecodedEvent[];
  /** Notification ids in output order. */
  notificationIds: string[];
  /** event_ids that occur more than once. */
  doubledEvents: string[];
  /** Notification ids emitted more than once. */
  doubledNotifications: string[];
  /** Per object, an event whose version is older than one before it (or not newer than a delete). */
  regressions: string[];
}

/**
 * Reads the records of a read_committed domain topic, in the collector's order (per partition, the log
 * order; an object's events are all on its grant's partition).
 */
async function judgeOutput(records: CollectedRecord[]): Promise<OutputVerdict> {
  const events = await Promise.all(records.map(decodeDomainEvent));
  const notificationIds = records.map(notificationId);
  const repeated = (values: string[]) => {
    const seen = new Set<string>();
    const twice = new Set<string>();
    for (const v of values) (seen.has(v) ? twice : seen).add(v);
    return [...twice];
  };
  const last = new Map<string, { version: number; deleted: boolean; id: string }>();
  const regressions: string[] = [];
  for (const e of events) {
    const v = e.value;
    const key = `${String(v.grant_id)}/${String(v.object_id)}`;
    const version = Number(v.object_version);
    const deleted = String(v.event_type).endsWith('.deleted');
    const id = String(v.nylas_notification_id);
    const before = last.get(key);
    if (before !== undefined && (version < before.version || (before.deleted && version <= before.version))) {
      regressions.push(`${key}: ${id} (version ${version}) after ${before.id} (version ${before.version})`);
    }
    last.set(key, { version, deleted, id });
  }
  return {
    events,
    notificationIds,
    doubledEvents: repeated(events.map((e) => String(e.value.event_id))),
    doubledNotifications: repeated(notificationIds),
    regressions,
  };
}

/** One new object per grant, created: once a grant's barrier is committed, all sent before it on that
 * grant's partition was handled. */
export function barriers(
  prefix: string,
  grants: string[],
  partitionOf?: (grantIndex: number) => number,
): Sent[] {
  return grants.map((grantId, g) => {
    const s: Sent = {
      id: `${prefix}-barrier-${g}`,
      grantId,
      messageId: `${prefix}-b${g}`,
      action: 'created',
      time: RECENT_TIME + 100,
      attempt: 1,
    };
    const partition = partitionOf?.(g);
    return partition === undefined ? s : { ...s, partition };
  });
}

/** True once every id in `ids` has a record in `records`. */
export function allEmitted(records: CollectedRecord[], ids: Iterable<string>): boolean {
  const seen = new Set(records.map(notificationId));
  for (const id of ids) if (!seen.has(id)) return false;
  return true;
}

/** The verdicts on everything `out` collected: no notification or event id twice, no version regression,
 * and exactly the notification ids expected. */
export async function expectCleanOutput(out: TopicCollector, expectedIds: Iterable<string>): Promise<void> {
  const verdict = await judgeOutput(out.records);
  expect(verdict.doubledNotifications).toEqual([]);
  expect(verdict.doubledEvents).toEqual([]);
  expect(verdict.regressions).toEqual([]);
  expect(new Set(verdict.notificationIds)).toEqual(new Set(expectedIds));
}

/** Sends `sent` (all expected to be duplicates or stale) and a barrier per grant, waits for the barriers,
 * and expects nothing else to come out. */
export async function expectNothingButBarriers(
  h: ProcessorHarness,
  out: TopicCollector,
  sent: Sent[],
  fence: Sent[],
): Promise<void> {
  const position = (r: CollectedRecord) => `${r.partition}:${r.offset}`;
  const before = new Set(out.records.map(position));
  const ids = fence.map((s) => s.id);
  await h.produce([...sent, ...fence].map(sentMessage));
  await pollUntil(() => allEmitted(out.records, ids), { description: 'every barrier emitted' });
  const fresh = out.records.filter((r) => !before.has(position(r))).map(notificationId);
  expect(fresh.sort()).toEqual(ids.sort());
}

/** Sends the workload step by step, waiting for each step's notifications to be emitted (or for
 * `stopWaiting()`: the processor died) before the next, so transactions follow the steps. */
export async function runWorkload(
  h: ProcessorHarness,
  out: TopicCollector,
  w: Workload,
  stopWaiting: () => boolean = () => false,
): Promise<void> {
  for (const [i, step] of w.steps.entries()) {
    await h.produce(step.map(sentMessage));
    const ids = step.filter((s) => w.emitted.has(s.id)).map((s) => s.id);
    await pollUntil(() => stopWaiting() || allEmitted(out.records, ids), {
      timeoutMs: 60_000,
      description: `step ${i} emitted`,
    });
  }
}
