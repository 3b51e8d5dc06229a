/**
 * The record of nylas.webhooks.raw, written once: the header names, the key rule, what the ingress writes
 * (encodeRawRecord) and what every reader takes from it (decodeRawRecord: the processor, redrive, tail and
 * the bench). The value is the exact request bytes (compressed when the delivery was gzip); the headers
 * carry what a consumer needs to verify, route and date it without parsing. Header names and the key
 * are public contract (docs/architecture.md, "Ingress" step 4): the key decides the partition, and the
 * processor's per-object order and state hold only while every notification of a grant lands on one
 * partition, so the ingress and the processor must derive the same key from the same body.
 */
import { isUtf8 } from 'node:buffer';
import type { IHeaders, Message } from 'kafkajs';
import { isObj, nonEmptyText } from './json';

export const RAW_HEADERS = {
  signature: 'nylas-signature',
  contentType: 'content-type',
  contentEncoding: 'content-encoding',
  notificationId: 'nylas-notification-id',
  type: 'nylas-type',
  deliveryAttempt: 'nylas-delivery-attempt',
  destination: 'nylas-destination',
  receivedAt: 'received-at',
  /** Set only by the backfill coordinator (processors/backfill/): `backfill` on a notification it built
   * from a list call. The ingress never copies request headers, so a client cannot set it. */
  origin: 'nylas-stream-origin',
  /** The backfill request a backfilled notification belongs to. */
  backfillId: 'nylas-stream-backfill-id',
} as const;

/** Where a raw record came from: a Nylas delivery through the ingress, or a backfill's list call. */
export type RecordOrigin = 'live' | 'backfill';

export function originOf(r: RawRecordFields): RecordOrigin {
  return headerText(r.headers, RAW_HEADERS.origin) === 'backfill' ? 'backfill' : 'live';
}

/** Content encodings the ingress accepts (anything else is 415). */
export type ContentEncoding = 'identity' | 'gzip';

export type GrantIdSource = 'data.object.grant_id' | 'data.grant_id' | 'data.application_id' | 'none';

/**
 * The Kafka key of a parsed notification body: the grant id (`data.object.grant_id`, else
 * `data.grant_id`: tracking and send results carry it at data level), else the application id (a
 * trigger without a grant), else none. Only non-empty strings count; anything else is skipped.
 */
export function grantKeyOf(envelope: unknown): { key: string | undefined; source: GrantIdSource } {
  const data = isObj(envelope) && isObj(envelope.data) ? envelope.data : undefined;
  const object = data !== undefined && isObj(data.object) ? data.object : undefined;
  const fromObject = nonEmptyText(object?.grant_id);
  if (fromObject !== undefined) return { key: fromObject, source: 'data.object.grant_id' };
  const fromData = nonEmptyText(data?.grant_id);
  if (fromData !== undefined) return { key: fromData, source: 'data.grant_id' };
  const fromApp = nonEmptyText(data?.application_id);
  if (fromApp !== undefined) return { key: fromApp, source: 'data.application_id' };
  return { key: undefined, source: 'none' };
}

/** What the ingress learned from the envelope and carries in headers and key. */
export interface RawEnvelopeFields {
  id: string | undefined;
  type: string | undefined;
  deliveryAttempt: number | undefined;
  /** grantKeyOf's key. */
  key: string | undefined;
}

export interface RawNotification {
  body: Buffer;
  /** The X-Nylas-Signature as received (already verified). */
  signature: string;
  contentType: string;
  contentEncoding: ContentEncoding;
  destination: string;
  receivedAt: number;
  envelope: RawEnvelopeFields;
}

/** The message the ingress produces for a verified notification. */
export function encodeRawRecord(n: RawNotification): Message {
  const headers: IHeaders = {
    [RAW_HEADERS.signature]: n.signature,
    [RAW_HEADERS.contentType]: n.contentType,
  };
  if (n.contentEncoding !== 'identity') headers[RAW_HEADERS.contentEncoding] = n.contentEncoding;
  if (n.envelope.id !== undefined) headers[RAW_HEADERS.notificationId] = n.envelope.id;
  if (n.envelope.type !== undefined) headers[RAW_HEADERS.type] = n.envelope.type;
  if (n.envelope.deliveryAttempt !== undefined)
    headers[RAW_HEADERS.deliveryAttempt] = String(n.envelope.deliveryAttempt);
  headers[RAW_HEADERS.destination] = n.destination;
  headers[RAW_HEADERS.receivedAt] = String(n.receivedAt);
  return {
    key: n.envelope.key ?? null,
    value: n.body,
    headers,
    timestamp: String(n.receivedAt),
  };
}

/** A header's first value as text (kafkajs hands consumed headers over as Buffers, produced ones as
 * strings). */
export function headerText(headers: IHeaders | undefined, name: string): string | undefined {
  const v = headers?.[name];
  const first = Array.isArray(v) ? v[0] : v;
  if (first === undefined) return undefined;
  return Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
}

/**
 * A consumed record's headers with every UTF-8 value as a string, for records a consumer keeps a while
 * (the processor's queues hold tens of thousands). kafkajs gives each value as a Buffer view of the
 * fetch: about 100 bytes of heap per view against 20-60 for the same short text, and every reader wants
 * text anyway (headerText). A value that is not UTF-8 stays bytes (copied out of the fetch), so a dead
 * letter still carries exactly the bytes it came with; a producer writes a string as its UTF-8 bytes.
 */
export function headersAsText(headers: IHeaders | undefined): IHeaders {
  const out: IHeaders = {};
  if (headers === undefined) return out;
  for (const name in headers) {
    // Own keys only (a header named __proto__ can make kafkajs set the object's prototype), and set
    // as an own property for the same reason: `out['__proto__'] = v` would set out's prototype.
    if (!Object.hasOwn(headers, name)) continue;
    const v = headers[name];
    const text = Array.isArray(v) ? v.map(utf8AsText) : utf8AsText(v);
    if (name === '__proto__') {
      Object.defineProperty(out, name, { value: text, enumerable: true, writable: true, configurable: true });
    } else {
      out[name] = text;
    }
  }
  return out;
}

function utf8AsText<V>(v: V): V | string | Buffer {
  if (!Buffer.isBuffer(v)) return v;
  // A copy, not the view: a view keeps the whole fetch it came in alive.
  return isUtf8(v) ? v.toString('utf8') : Buffer.from(v);
}

/** Header values as strings (kafkajs gives Buffers). */
export function headersAsStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(headers ?? {})) {
    const v = headerText(headers, name);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

/** The parts of a consumed (or produced) raw record the readers need. */
export interface RawRecordFields {
  key?: Buffer | string | null | undefined;
  value: Buffer | string | null;
  headers?: IHeaders | undefined;
  /** Epoch ms as a decimal string (the broker's, or the producer's). */
  timestamp?: string | undefined;
}

/**
 * When the ingress received a record: its received-at header, else the record timestamp (a record
 * produced by another tool may lack the header).
 */
export function receivedAtOf(r: RawRecordFields): number {
  const h = Number(headerText(r.headers, RAW_HEADERS.receivedAt));
  return Number.isFinite(h) && h > 0 ? h : Number(r.timestamp);
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/**
 * How a record's value is encoded: gzip when the header says so or when the value starts with the gzip
 * magic bytes (which also catches a gzip body whose header was lost: JSON never starts with 0x1f), the
 * named encoding when the header names another one, else identity.
 */
export function bodyEncodingOf(
  r: RawRecordFields,
): { kind: 'gzip' } | { kind: 'identity' } | { kind: 'unsupported'; encoding: string } {
  const encoding = headerText(r.headers, RAW_HEADERS.contentEncoding)?.trim().toLowerCase();
  const v = r.value;
  const looksGzip = Buffer.isBuffer(v) && v.length >= 2 && v[0] === GZIP_MAGIC_0 && v[1] === GZIP_MAGIC_1;
  if (encoding === 'gzip' || encoding === 'x-gzip' || looksGzip) return { kind: 'gzip' };
  if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
    return { kind: 'unsupported', encoding };
  }
  return { kind: 'identity' };
}

/** A raw record as its readers see it (decodeRawRecord). */
export interface DecodedRawRecord {
  key: string | undefined;
  body: Buffer | null;
  signature: string | undefined;
  contentType: string | undefined;
  contentEncoding: 'identity' | 'gzip' | { unsupported: string };
  notificationId: string | undefined;
  type: string | undefined;
  deliveryAttempt: number | undefined;
  destination: string | undefined;
  receivedAt: number;
}

/** Reads what encodeRawRecord wrote, from a consumed record (Buffers) or a produced message (strings). */
export function decodeRawRecord(r: RawRecordFields): DecodedRawRecord {
  const text = (name: string) => headerText(r.headers, name);
  const attempt = text(RAW_HEADERS.deliveryAttempt);
  const encoding = bodyEncodingOf(r);
  return {
    key: r.key === null || r.key === undefined ? undefined : r.key.toString(),
    body: r.value === null || Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value),
    signature: text(RAW_HEADERS.signature),
    contentType: text(RAW_HEADERS.contentType),
    contentEncoding: encoding.kind === 'unsupported' ? { unsupported: encoding.encoding } : encoding.kind,
    notificationId: text(RAW_HEADERS.notificationId),
    type: text(RAW_HEADERS.type),
    deliveryAttempt: attempt === undefined ? undefined : Number(attempt),
    destination: text(RAW_HEADERS.destination),
    receivedAt: receivedAtOf(r),
  };
}
