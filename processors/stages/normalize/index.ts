/**
 * normalize: one decoded (and, for *.truncated, expanded) notification → one provider-neutral domain event
 * (docs/architecture.md, "Processors" step 5). Pure: no I/O, no clock, no randomness, so a replay re-emits
 * byte-identical events (the event id is derived from the notification id).
 *
 * Routing is by trigger family (processors/triggers.ts strips suffixes first), so
 * `message.created.cleaned.transformed.truncated` is a message like `message.created`; each family's
 * fields are built by its own module here. Triggers with no model go to nylas.unmodeled with the object
 * as JSON text, so nothing is lost.
 *
 * Nylas omits fields freely, so every read is lenient (lib/json.ts): a missing or oddly typed optional
 * field becomes null, never an exception. Only a payload that cannot describe the change at all (no
 * object on a create or update, no object id) throws BadInputError(NORMALIZE_FAILED), which the runtime
 * dead-letters.
 */
import { hash } from 'node:crypto';
import type { TopicsConfig } from '../../../lib/config';
import { secondsToMs } from '../../../lib/json';
import type { RecordOrigin } from '../../../lib/raw-record';
import type { EventOrigin } from '../../../schemas/generated/types';
import { DOMAIN_SCHEMA_TOPICS, type DomainSchemaName } from '../../../schemas/index';
import type { DomainEvent, Notification, TriggerFamily } from '../../types';
import { calendarFields } from './calendars';
import { contactFields } from './contacts';
import { deliveryFields } from './delivery';
import { eventFields } from './events';
import { folderFields } from './folders';
import { grantFields } from './grants';
import { messageFields } from './messages';
import { type Common, fail, type Specific } from './shared';
import { trackingFields } from './tracking';
import { unmodeledFields } from './unmodeled';

export { withoutBody } from './messages';

/**
 * Header names carried on every domain event record: the event type (route or filter without decoding
 * Avro) and where the event came from (the Nylas notification id that logs, the DLQ and the raw topic
 * share, and the raw record). Consumers must not need them. The event id, Nylas type and receipt time are
 * Avro fields and are not repeated here: kafkajs encodes each header into its own zeroed 512-byte buffer,
 * a cost paid per event (test/bench/stages.ts measures it).
 */
export const DOMAIN_EVENT_HEADERS = {
  eventType: 'event-type',
  notificationId: 'nylas-notification-id',
  sourceTopic: 'source-topic',
  sourcePartition: 'source-partition',
  sourceOffset: 'source-offset',
} as const;

const SCHEMA_BY_FAMILY: Record<TriggerFamily, DomainSchemaName> = {
  message: 'messages',
  folder: 'folders',
  tracking: 'tracking',
  delivery: 'delivery',
  event: 'events',
  calendar: 'calendars',
  contact: 'contacts',
  grant: 'grants',
  unmodeled: 'unmodeled',
};

const FAMILY_FIELDS: { [F in TriggerFamily]: (n: Notification) => Specific<(typeof SCHEMA_BY_FAMILY)[F]> } = {
  message: messageFields,
  folder: folderFields,
  tracking: trackingFields,
  delivery: deliveryFields,
  event: eventFields,
  calendar: calendarFields,
  contact: contactFields,
  grant: grantFields,
  unmodeled: unmodeledFields,
};

/** Exhaustive over RecordOrigin: a new kind of raw record does not compile here until the schemas get a
 * symbol for it (a new schema version), rather than reaching consumers labelled LIVE. */
const EVENT_ORIGIN: Record<RecordOrigin, EventOrigin> = {
  live: 'LIVE',
  backfill: 'BACKFILL',
};

/**
 * The domain event id: a UUID-shaped digest of the notification id and type, so reprocessing or
 * replaying the same notification re-emits the same id (Nylas keeps `id` across its retries).
 */
export function domainEventId(notificationId: string, nylasType: string): string {
  // One-shot crypto.hash (Node >= 20.12): cheaper per event than createHash().update().digest().
  const h = hash('sha256', `nylas-stream/v1\n${notificationId}\n${nylasType}`, 'hex');
  // RFC 9562 version 8 (custom) with the variant bits set, so it parses as a UUID everywhere.
  const variant = ((Number.parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** "message.created" → "message.deleted" when the API said the object is gone. */
function eventTypeOf(n: Notification): string {
  if (!n.goneOnExpand) return n.baseType;
  const dot = n.baseType.lastIndexOf('.');
  return `${dot === -1 ? n.baseType : n.baseType.slice(0, dot)}.deleted`;
}

function commonFields(n: Notification): Common {
  const time = n.envelope.time;
  if (typeof time !== 'number' || !Number.isFinite(time)) throw fail(n, 'envelope time is not a number');
  const version = n.version;
  if (version > BigInt(Number.MAX_SAFE_INTEGER) || version < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw fail(n, `object version ${version} does not fit an Avro long as a JS number`);
  }
  if (n.object.objectId === '') throw fail(n, 'no object id');
  const receivedAt = Number.isFinite(n.receivedAt) ? n.receivedAt : Number(n.record.timestamp);
  return {
    event_id: domainEventId(n.envelope.id, n.envelope.type),
    event_type: eventTypeOf(n),
    nylas_type: n.envelope.type,
    grant_id: n.grantId,
    application_id: n.applicationId,
    object_id: n.object.objectId,
    object_version: Number(version),
    occurred_at: secondsToMs(time) ?? 0,
    received_at: Number.isFinite(receivedAt) ? receivedAt : 0,
    nylas_notification_id: n.envelope.id,
    nylas_source: typeof n.envelope.source === 'string' ? n.envelope.source : '',
    expanded: n.expanded,
    origin: EVENT_ORIGIN[n.origin],
  };
}

/** Which domain schema (and so topic) a family maps to. */
export function schemaNameFor(family: TriggerFamily): DomainSchemaName {
  return SCHEMA_BY_FAMILY[family];
}

/**
 * Maps one notification to its domain event. Pure. Throws BadInputError(NORMALIZE_FAILED) for a payload
 * that cannot be published (the runtime dead-letters it). The value is built to conform to its schema
 * (test/unit/processors/stages/normalize.test.ts checks every family and variant); it is not validated
 * again here because encoding validates it (publish.ts), and a value that does not conform becomes a
 * re-drivable SCHEMA_ENCODE_FAILED dead letter naming the field paths, since the fix is in our mapping.
 */
export function normalize(n: Notification, topics: TopicsConfig): DomainEvent {
  const schemaName = SCHEMA_BY_FAMILY[n.family];
  const common = commonFields(n);
  // The family's fields added to the common ones in place (the common object is this event's own), not
  // both spread into a third object: that spread was most of normalize's time, and its objects were slower
  // for avsc to encode (normalize 12.9 → 4.9 µs and Avro 7.6 → 4.5 µs per event; docs/benchmarks.md,
  // "Processor CPU per record, issue 15"). Same fields, same values: no family returns a common field.
  const value = Object.assign(common, FAMILY_FIELDS[n.family](n)) as Record<string, unknown>;
  return {
    topic: String(topics[DOMAIN_SCHEMA_TOPICS[schemaName]]),
    key: n.grantId,
    schema: schemaName,
    value,
    headers: {
      [DOMAIN_EVENT_HEADERS.eventType]: common.event_type,
      [DOMAIN_EVENT_HEADERS.notificationId]: n.envelope.id,
      [DOMAIN_EVENT_HEADERS.sourceTopic]: n.record.topic,
      [DOMAIN_EVENT_HEADERS.sourcePartition]: String(n.record.partition),
      [DOMAIN_EVENT_HEADERS.sourceOffset]: n.record.offset,
    },
  };
}
