/**
 * The identity and version of the object a notification is about: which object (grant, object type,
 * object id) and how new its state is. decode computes both once per notification; order and the state
 * store use them. The rules per trigger family are the order stage's (processors/stages/order.ts):
 * version = the object's own clock where it has one, else the envelope `time`, on one scale per object.
 */
import { type Obj, obj } from '../lib/json';
import type { RecordOrigin } from '../lib/raw-record';
import { stateId } from './state/keys';
import type { TriggerInfo } from './triggers';
import type { NylasEnvelope, ObjectKey } from './types';

/** A stable string for an ObjectKey (Map key, store key), built from the bounded parts the state keeps
 * (state/keys.ts), so a key read back from the changelog gives the same string. */
export function objectKeyString(k: ObjectKey): string {
  return JSON.stringify([stateId(k.grantId), stateId(k.objectType), stateId(k.objectId)]);
}

function idText(v: unknown): string | undefined {
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

function count(v: unknown): bigint | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : undefined;
}

/**
 * Last second of year 9999: the latest Unix time (seconds) any stage accepts. Its milliseconds (plus a
 * sequence) stay far below 2^53, so a version is always a safe integer, which normalize publishes as an
 * Avro long read as a JS number; decode refuses an envelope `time` beyond it.
 */
export const MAX_UNIX_SECONDS = 253_402_300_799;

/** Unix seconds within [0, MAX_UNIX_SECONDS], else undefined (treated as absent). */
function seconds(v: unknown): number | undefined {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && n >= 0 && n <= MAX_UNIX_SECONDS ? Math.floor(n) : undefined;
}

/** The object a notification is about. The type is the family (tracking: the trigger, so opens, clicks
 * and replies of one message are three counters); the id is the object's own id, falling back through
 * the fields other shapes use, finally to the notification id (an event that is not a state). */
export function objectKeyOf(info: TriggerInfo, env: NylasEnvelope, grantId: string): ObjectKey {
  const o = obj(env.data.object) ?? {};
  if (info.family === 'grant') {
    return { grantId, objectType: 'grant', objectId: idText(o.grant_id) ?? grantId };
  }
  const objectId =
    idText(o.id) ??
    idText(o.message_id) ??
    idText(o.booking_id) ??
    idText(obj(o.origin)?.id) ??
    (info.family === 'delivery' || info.family === 'tracking' || info.family === 'unmodeled' ? env.id : '');
  const objectType =
    info.family === 'tracking'
      ? info.baseType
      : info.family === 'unmodeled'
        ? (info.baseType.split('.')[0] ?? info.baseType)
        : info.family;
  return { grantId, objectType, objectId };
}

const MS = 1000n;

/** Tracking counters only go up, so they are the natural version of a tracking state. */
export function trackingCounter(info: TriggerInfo, o: Obj): bigint | undefined {
  if (info.suffixes.includes('legacy')) return undefined;
  switch (info.baseType) {
    case 'message.opened':
      return count(obj(o.message_data)?.count);
    case 'message.link_clicked': {
      if (!Array.isArray(o.link_data)) return undefined;
      let sum = 0n;
      for (const l of o.link_data) {
        const c = count(obj(l)?.count);
        if (c === undefined) return undefined;
        sum += c;
      }
      // Absurd counts make no version (an event, emitted once) rather than one normalize cannot publish.
      return sum <= BigInt(Number.MAX_SAFE_INTEGER) ? sum : undefined;
    }
    case 'thread.replied':
      return count(obj(o.reply_data)?.count);
    default:
      return undefined;
  }
}

/**
 * The version used for ordering (see the module comment). Always a safe integer: normalize publishes it
 * as the domain event's `object_version` (an Avro long read as a JS number). `env.time` must be what
 * decode accepts (finite, within [0, MAX_UNIX_SECONDS]); an event clock outside that range is ignored.
 *
 * A backfilled notification (processors/backfill/) carries the object's state as the list call read it,
 * and its `time` is when that call was answered (Nylas's clock). Where the version is an object's own
 * clock (an event's `updated_at`) nothing changes. Where it is the envelope `time` (messages, contacts,
 * calendars, folders have no change clock) it is one millisecond below the second of the call: a live
 * notification of any earlier second describes a state the list already showed, so it stays stale; a
 * live one of the same second or later may describe a change the list did not see, so it wins. A
 * backfilled state therefore never overtakes a live one that could be newer
 * (docs/processor-internals.md, "Backfill versions").
 */
export function versionOf(info: TriggerInfo, env: NylasEnvelope, origin: RecordOrigin = 'live'): bigint {
  const o = obj(env.data.object) ?? {};
  const time = BigInt(Math.max(0, Math.floor(env.time)));
  if (info.family === 'tracking') return trackingCounter(info, o) ?? time * MS;
  if (info.family === 'event' && info.action !== 'deleted') {
    const updatedAt = seconds(o.updated_at);
    if (updatedAt !== undefined) {
      const seq = seconds(o.sequence) ?? 0;
      return BigInt(updatedAt) * MS + BigInt(Math.min(seq, 999));
    }
  }
  if (origin === 'backfill' && time > 0n) return time * MS - 1n;
  return time * MS;
}
