/**
 * The types the processor stages pass to each other. Stages are pure functions over a batch of these
 * plus the state store (docs/architecture.md, "Processors"):
 *
 *   RawRecord ──decode──▶ Notification ──dedupe──▶ ──order──▶ ──expand──▶ ──normalize──▶ DomainEvent ──encode/publish──▶ Kafka
 *        └──────────── any stage may instead produce a DeadLetter (with a reason code) ──────────────▶ nylas.webhooks.dlq
 */
import type { IHeaders } from 'kafkajs';
import type { DeadLetterReason } from '../lib/errors';
import type { RecordOrigin } from '../lib/raw-record';

/** One record of nylas.webhooks.raw, as consumed. `value` is the exact request body the ingress received. */
export interface RawRecord {
  topic: string;
  partition: number;
  /** Kafka offset as a decimal string (kafkajs's representation); also the tie-breaker for ordering. */
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
  /** Broker timestamp, epoch ms as a string. */
  timestamp: string;
}

/** The Nylas notification envelope (docs/nylas-contract.md §1), after validation. */
export interface NylasEnvelope {
  specversion: string;
  type: string;
  source: string;
  id: string;
  /** Unix seconds. */
  time: number;
  webhook_delivery_attempt?: number;
  data: {
    application_id: string;
    grant_id?: string;
    object: Record<string, unknown> | null;
    [key: string]: unknown;
  };
}

/** Trigger families, routed by prefix of `type` (suffixes such as .truncated are stripped first). */
export type TriggerFamily =
  | 'message' // message.created/updated/deleted (+ .cleaned/.metadata/.transformed/.truncated)
  | 'folder'
  | 'tracking' // message.opened, message.link_clicked, thread.replied (+ .legacy)
  | 'delivery' // message.send_success, message.send_failed, message.bounce_detected, agent/transactional deliverability
  | 'event'
  | 'calendar'
  | 'contact'
  | 'grant'
  | 'unmodeled'; // anything else (notetaker, booking, intelligence, a trigger Nylas adds tomorrow)

export const TRIGGER_SUFFIXES = ['truncated', 'transformed', 'cleaned', 'metadata', 'legacy'] as const;
export type TriggerSuffix = (typeof TRIGGER_SUFFIXES)[number];

/** The identity used for ordering: one object of one grant. */
export interface ObjectKey {
  grantId: string;
  objectType: string;
  objectId: string;
}

/** A decoded, validated notification, with everything later stages need precomputed. */
export interface Notification {
  record: RawRecord;
  envelope: NylasEnvelope;
  /** `type` without suffixes, e.g. "message.created" for "message.created.cleaned.truncated". */
  baseType: string;
  suffixes: TriggerSuffix[];
  family: TriggerFamily;
  /** "created" | "updated" | "deleted" | other action name (e.g. "opened", "expired"). */
  action: string;
  /** Grant id (data.object.grant_id, else data.grant_id, else application id). */
  grantId: string;
  applicationId: string;
  object: ObjectKey;
  /** The object's version for ordering (see processors/stages/order.ts for the rules per family). */
  version: bigint;
  /** `backfill` when the backfill coordinator built it from a list call (raw header nylas-stream-origin). */
  origin: RecordOrigin;
  /** When the ingress received it (header received-at, epoch ms). */
  receivedAt: number;
  /** Set by the expand stage when the full object was fetched from the Nylas API. */
  expanded: boolean;
  /** Set by the expand stage when the API said the object is gone (404): emitted as deleted. */
  goneOnExpand: boolean;
}

/** A domain event ready to encode: the topic, the Kafka key (grant id), the Avro subject's record. */
export interface DomainEvent {
  topic: string;
  key: string;
  /** Name of the .avsc file in schemas/ (without extension) whose record `value` conforms to. */
  schema: string;
  value: Record<string, unknown>;
  /** Carried to Kafka headers for tracing (notification id, source offset, …). */
  headers: Record<string, string>;
}

/** Why a record went to the DLQ: the dead-letter column of lib/errors.ts FAILURE_CODES, which says what
 * each reason means and whether a redrive can succeed. */
export { DEAD_LETTER_REASONS, type DeadLetterReason } from '../lib/errors';

export interface DeadLetter {
  record: RawRecord;
  reason: DeadLetterReason;
  message: string;
  stage:
    | 'decode'
    | 'window'
    | 'dedupe'
    | 'order'
    | 'expand'
    | 'normalize'
    | 'encode'
    | 'produce'
    | 'isolation';
  /** True when re-driving after a fix can succeed (e.g. a grant re-authenticated after a 401). */
  redrivable: boolean;
  /** The stable error code behind the reason (lib/errors.ts ErrorCodes, or the reason itself). */
  code?: string;
}
