/**
 * The known-objects index: what a backfill's whole re-listing is reconciled against (README "Backfill",
 * docs/processor-internals.md "Reconciliation").
 *
 * Contacts, calendars and folders have no time filter in the list API, so a backfill lists them whole;
 * an object the pipeline once emitted as existing that the whole listing no longer returns was deleted
 * while no notification reached us (an expired grant, a failed destination). To know what was emitted,
 * the processor writes, in the transaction of each contact, calendar and folder domain event it emits,
 * one record per object to the compacted topic TOPIC_KNOWN_OBJECTS (co-partitioned by grant):
 *
 *   key (JSON array)                      value (JSON)
 *   [grantId, family, objectId]           {"at": <Nylas time of the event, Unix s>}   the object exists
 *                                         null (tombstone)                            it was deleted
 *
 * Compaction keeps one record per existing object, so the topic's size follows the accounts (how many
 * contacts, calendars and folders they have), not the traffic or the time; when a grant is deleted the
 * coordinator tombstones all of its records (partition.ts), in the transaction that forgets the grant. Messages and events are
 * listed by time windows, where "not listed" means nothing; they are not indexed.
 *
 * The backfill coordinator reads a grant's records only when a backfill that listed one of these families
 * whole completes (readKnownObjects below): a read of one partition, streamed, keeping the grant's
 * records only.
 */
import type { Admin, Kafka, Message } from 'kafkajs';
import { readToEnd } from '../../lib/read-to-end';
import type { Notification } from '../types';
import { type BackfillFamily, jsonArrayKey, OBJECT_TYPE, parseValue } from './records';

/** The families a backfill lists whole, so the only ones it can reconcile. */
export const RECONCILED_FAMILIES = [
  'contacts',
  'calendars',
  'folders',
] as const satisfies readonly BackfillFamily[];
export type ReconciledFamily = (typeof RECONCILED_FAMILIES)[number];

/** The processor's trigger family of each indexed family (contact → contacts, …). */
const INDEXED: ReadonlyMap<string, ReconciledFamily> = new Map(
  RECONCILED_FAMILIES.map((f) => [OBJECT_TYPE[f], f]),
);

export function isReconciled(family: BackfillFamily | undefined): family is ReconciledFamily {
  return (RECONCILED_FAMILIES as readonly string[]).includes(family ?? '');
}

export function knownObjectKey(grantId: string, family: ReconciledFamily, objectId: string): string {
  return JSON.stringify([grantId, family, objectId]);
}

export function parseKnownObjectKey(
  key: Buffer | string | null,
): { grantId: string; family: ReconciledFamily; objectId: string } | undefined {
  const k = jsonArrayKey(key);
  if (k === undefined || k.length !== 3) return undefined;
  const [grantId, family, objectId] = k;
  if (typeof grantId !== 'string' || typeof objectId !== 'string' || typeof family !== 'string')
    return undefined;
  if (!isReconciled(family as BackfillFamily)) return undefined;
  return { grantId, family: family as ReconciledFamily, objectId };
}

/** The index record of an emitted domain event (undefined: its family is not indexed). Same partition as
 * the raw record: the topics are co-partitioned by grant. */
export function knownObjectMessage(n: Notification): Message | undefined {
  const family = INDEXED.get(n.family);
  if (family === undefined || n.object.objectId === '') return undefined;
  const deleted = n.action === 'deleted' || n.goneOnExpand;
  return {
    key: knownObjectKey(n.grantId, family, n.object.objectId),
    value: deleted ? null : JSON.stringify({ at: Math.floor(n.envelope.time) }),
    partition: n.record.partition,
  };
}

/** Per family, the grant's objects known to exist and the Nylas time (Unix s) each was last emitted. */
export type GrantKnownObjects = Map<ReconciledFamily, Map<string, number>>;
/** By grant. */
export type KnownObjects = Map<string, GrantKnownObjects>;

/** Reads partition `partition` of the index whole and keeps the records of `grants`. */
export async function readKnownObjects(
  kafka: Kafka,
  admin: Admin,
  o: { topic: string; partition: number; grants: ReadonlySet<string>; timeoutMs: number },
): Promise<KnownObjects> {
  const out: KnownObjects = new Map();
  await readToEnd(
    kafka,
    admin,
    { topic: o.topic, partitions: [o.partition], timeoutMs: o.timeoutMs },
    (_, m) => {
      const key = parseKnownObjectKey(m.key);
      if (key === undefined || !o.grants.has(key.grantId)) return;
      const families: GrantKnownObjects = out.get(key.grantId) ?? new Map();
      out.set(key.grantId, families);
      const ids = families.get(key.family) ?? new Map<string, number>();
      families.set(key.family, ids);
      const at = m.value === null ? undefined : atOf(m.value);
      if (at === undefined) ids.delete(key.objectId);
      else ids.set(key.objectId, at);
    },
  );
  return out;
}

function atOf(value: Buffer): number | undefined {
  const at = parseValue(value)?.at;
  return typeof at === 'number' && Number.isFinite(at) ? at : undefined;
}
