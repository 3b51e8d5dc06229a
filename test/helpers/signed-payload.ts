/**
 * A small builder for signed Nylas deliveries (STYLE.md item 4): a notification envelope, its exact
 * bytes (optionally gzip-compressed), and the headers Nylas sends — with each part overridable so one
 * test per failure mode is a one-liner.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';

/** docs/nylas-contract.md §2.1: the published test vector. */
export const CONTRACT_VECTOR = {
  secret: '41dD3-nXTUfebYuk81Gr',
  body: '{"specversion":"1.0","type":"grant.deleted","source":"/nylas/system","id":"a1b2c3d4-0000-4000-8000-000000000001","time":1723821985,"webhook_delivery_attempt":1,"data":{"application_id":"app-123","object":{"code":25013,"grant_id":"e19f8e1a-eb1c-4673-b602-ba4a189b18bd","integration_id":"int-1","provider":"google","email":"user@example.com"}}}',
  signature: 'f1344fa71fec36f583ee448691eed0e1992a0c56020e9869e91ddf03fdab5f96',
  mockSignature: '82fb6abbfc4fc52d624504499760fcff28eb453f09e3745098b47ab12bb40759',
} as const;

export function hmacHex(body: Buffer | string, secret: string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

export interface NotificationFields {
  id?: string;
  type?: string;
  source?: string;
  time?: number;
  attempt?: number;
  applicationId?: string;
  /** Put in data.object.grant_id (most triggers). */
  objectGrantId?: string;
  /** Put in data.grant_id (tracking, send results, bookings). */
  dataGrantId?: string;
  object?: Record<string, unknown>;
  /** Pads data.object with a filler field until the JSON is at least this many bytes. */
  minBytes?: number;
}

/** A notification envelope as Nylas sends it (§1). */
export function notification(fields: NotificationFields = {}): Record<string, unknown> {
  const object: Record<string, unknown> = { id: `obj-${randomUUID()}`, ...(fields.object ?? {}) };
  if (fields.objectGrantId !== undefined) object.grant_id = fields.objectGrantId;
  const data: Record<string, unknown> = { application_id: fields.applicationId ?? 'app-test', object };
  if (fields.dataGrantId !== undefined) data.grant_id = fields.dataGrantId;
  const envelope = {
    specversion: '1.0',
    type: fields.type ?? 'message.created',
    source: fields.source ?? '/google/emails/realtime',
    id: fields.id ?? randomUUID(),
    time: fields.time ?? 1_723_821_985,
    webhook_delivery_attempt: fields.attempt ?? 1,
    data,
  };
  if (fields.minBytes !== undefined) {
    const size = Buffer.byteLength(JSON.stringify(envelope));
    if (size < fields.minBytes) object.filler = 'x'.repeat(fields.minBytes - size - 12);
  }
  return envelope;
}

export interface DeliveryOptions {
  secret?: string;
  /** Compress the body and sign the compressed bytes (compressed delivery). */
  gzip?: boolean;
  /** Override the signature header: a string is sent as-is, null omits the header. */
  signature?: string | null;
  /** Name of the signature header as sent (HTTP names are case-insensitive). */
  signatureHeaderName?: string;
  contentType?: string | null;
  headers?: Record<string, string>;
}

export interface Delivery {
  body: Buffer;
  headers: Record<string, string>;
  /** The signature that was sent (undefined when omitted). */
  signature: string | undefined;
}

/** The bytes and headers of one delivery. `payload` may be an object (JSON-encoded), a string or bytes. */
export function delivery(payload: unknown, options: DeliveryOptions = {}): Delivery {
  const raw = Buffer.isBuffer(payload)
    ? payload
    : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload), 'utf8');
  const body = options.gzip ? gzipSync(raw) : raw;
  const signature =
    options.signature === null
      ? undefined
      : (options.signature ?? hmacHex(body, options.secret ?? 'test-secret'));
  const headers: Record<string, string> = {};
  if (options.contentType !== null) headers['content-type'] = options.contentType ?? 'application/json';
  if (options.gzip) headers['content-encoding'] = 'gzip';
  if (signature !== undefined) headers[options.signatureHeaderName ?? 'X-Nylas-Signature'] = signature;
  return { body, headers: { ...headers, ...(options.headers ?? {}) }, signature };
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** Milliseconds from sending to the full answer. */
  ms: number;
}

/** POSTs a delivery with fetch and returns status, headers and body. */
export async function post(url: string, d: Delivery): Promise<HttpAnswer> {
  const started = Date.now();
  const res = await fetch(url, { method: 'POST', headers: d.headers, body: d.body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, ms: Date.now() - started };
}
