/**
 * Records of nylas.webhooks.raw exactly as the ingress writes them (docs/architecture.md, "Ingress" step 4):
 * key = grant id, value = the request bytes (optionally gzip), and the ingress headers. Unit tests take
 * `rawRecord` (a consumed RawRecord); Kafka tests produce `rawMessage`.
 */
import { gzipSync } from 'node:zlib';
import type { IHeaders, Message } from 'kafkajs';
import { encodeRawRecord, headersAsStrings } from '../../lib/raw-record';
import type { RawRecord } from '../../processors/types';

export const APP_ID = 'app-7c2a9e0b';

/** The default envelope `time` (Unix seconds): an hour before the test run started, so notifications lie
 * inside the processor's acceptance window (processors/stages/window.ts) however long the suite runs;
 * tests that need several versions add to it. */
export const RECENT_TIME = Math.floor(Date.now() / 1000) - 3600;

export interface EnvelopeSpec {
  type: string;
  /** Notification id (stable across Nylas's retries). */
  id: string;
  /** Unix seconds. */
  time?: number;
  attempt?: number;
  source?: string;
  /** `data.object`. */
  object?: Record<string, unknown> | null;
  /** Extra `data.*` fields (grant_id for tracking/send triggers, reason/error for send_failed). */
  data?: Record<string, unknown>;
}

export function envelope(spec: EnvelopeSpec): Record<string, unknown> {
  return {
    specversion: '1.0',
    type: spec.type,
    source: spec.source ?? '/google/emails/realtime',
    id: spec.id,
    time: spec.time ?? RECENT_TIME,
    webhook_delivery_attempt: spec.attempt ?? 1,
    data: { application_id: APP_ID, ...spec.data, object: spec.object === undefined ? null : spec.object },
  };
}

export interface RawSpec {
  /** Kafka key (grant id). */
  grantId: string;
  /** The body: an envelope object, or exact bytes/text (malformed cases). */
  body: Record<string, unknown> | Buffer | string;
  gzip?: boolean;
  receivedAt?: number;
  extraHeaders?: Record<string, string>;
}

function bodyBytes(spec: RawSpec): Buffer {
  const b =
    Buffer.isBuffer(spec.body) || typeof spec.body === 'string'
      ? Buffer.from(spec.body)
      : Buffer.from(JSON.stringify(spec.body));
  return spec.gzip ? gzipSync(b) : b;
}

/** The headers the ingress writes (lib/raw-record.ts), with the test's additions. */
function headersOf(spec: RawSpec): Record<string, string> {
  const env = !Buffer.isBuffer(spec.body) && typeof spec.body === 'object' ? spec.body : undefined;
  const attempt = env?.webhook_delivery_attempt;
  const written = encodeRawRecord({
    body: Buffer.alloc(0),
    signature: 'a'.repeat(64),
    contentType: 'application/json',
    contentEncoding: spec.gzip ? 'gzip' : 'identity',
    destination: 'default',
    receivedAt: spec.receivedAt ?? Date.now(),
    envelope: {
      id: typeof env?.id === 'string' ? env.id : undefined,
      type: typeof env?.type === 'string' ? env.type : undefined,
      deliveryAttempt: typeof attempt === 'number' ? attempt : undefined,
      key: spec.grantId,
    },
  }).headers;
  return { ...headersAsStrings(written), ...spec.extraHeaders };
}

/** A message to produce to the raw topic. */
export function rawMessage(spec: RawSpec): Message {
  const value = bodyBytes(spec);
  return { key: spec.grantId, value, headers: headersOf(spec) };
}

/** A record as the processor consumes it. */
export function rawRecord(
  spec: RawSpec & { offset: number | string; partition?: number; topic?: string },
): RawRecord {
  const value = bodyBytes(spec);
  const headers: IHeaders = {};
  for (const [k, v] of Object.entries(headersOf(spec))) headers[k] = Buffer.from(v);
  return {
    topic: spec.topic ?? 'nylas.webhooks.raw',
    partition: spec.partition ?? 0,
    offset: String(spec.offset),
    key: Buffer.from(spec.grantId),
    value,
    headers,
    timestamp: String(spec.receivedAt ?? 1_723_821_986_000),
  };
}

// ---- objects ------------------------------------------------------------------------------------

export function messageObject(grantId: string, id: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    grant_id: grantId,
    object: 'message',
    thread_id: `t-${id}`,
    subject: `subject of ${id}`,
    from: [{ name: 'Leyah Miller', email: 'leyah@example.com' }],
    to: [{ name: 'Nyla', email: 'nyla@example.com' }],
    cc: [],
    bcc: [],
    reply_to: [],
    date: 1_723_821_981,
    body: '<div>hello</div>',
    snippet: 'hello',
    starred: false,
    unread: true,
    folders: ['INBOX'],
    attachments: [],
    ...extra,
  };
}

export function eventObject(grantId: string, id: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    grant_id: grantId,
    object: 'event',
    calendar_id: 'cal-1',
    title: `event ${id}`,
    busy: true,
    status: 'confirmed',
    when: { object: 'timespan', start_time: 1_723_900_000, end_time: 1_723_903_600 },
    participants: [],
    created_at: 1_723_800_000,
    updated_at: 1_723_821_000,
    sequence: 0,
    ...extra,
  };
}

/** message.* notification for a message (truncated: no body, `.truncated` suffix). */
export function messageNotification(
  grantId: string,
  spec: {
    id: string;
    messageId: string;
    action?: 'created' | 'updated' | 'deleted';
    time?: number;
    attempt?: number;
    truncated?: boolean;
    object?: Record<string, unknown>;
  },
): Record<string, unknown> {
  const action = spec.action ?? 'created';
  const obj =
    action === 'deleted'
      ? { id: spec.messageId, grant_id: grantId, object: 'message' }
      : (spec.object ?? messageObject(grantId, spec.messageId));
  if (spec.truncated) delete (obj as Record<string, unknown>).body;
  return envelope({
    type: `message.${action}${spec.truncated ? '.truncated' : ''}`,
    id: spec.id,
    ...(spec.time !== undefined ? { time: spec.time } : {}),
    ...(spec.attempt !== undefined ? { attempt: spec.attempt } : {}),
    object: obj,
  });
}
