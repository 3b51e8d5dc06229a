/**
 * The record the ingress writes to nylas.webhooks.raw (ARCHITECTURE.md, Ingress step 4). The value is
 * the exact request bytes (compressed when the delivery was gzip); the headers carry what a consumer
 * needs to verify, route and date it without parsing. Header names are public contract.
 */
import type { IHeaders, Message } from 'kafkajs';
import type { ContentEncoding, EnvelopeSummary } from './envelope';

export const RAW_HEADERS = {
  signature: 'nylas-signature',
  contentType: 'content-type',
  contentEncoding: 'content-encoding',
  notificationId: 'nylas-notification-id',
  type: 'nylas-type',
  deliveryAttempt: 'nylas-delivery-attempt',
  destination: 'nylas-destination',
  receivedAt: 'received-at',
} as const;

export interface RawNotification {
  body: Buffer;
  /** The X-Nylas-Signature as received (already verified). */
  signature: string;
  contentType: string;
  contentEncoding: ContentEncoding;
  destination: string;
  receivedAt: number;
  envelope: EnvelopeSummary;
}

export function buildRawRecord(n: RawNotification): Message {
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

/** Bytes a message adds to a produce request (key + value + headers), for batch and in-flight bounds. */
export function messageBytes(m: Message): number {
  let n = 0;
  if (m.key !== null && m.key !== undefined) n += Buffer.byteLength(m.key);
  if (m.value !== null) n += Buffer.byteLength(m.value);
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    n += k.length;
    if (typeof v === 'string' || Buffer.isBuffer(v)) n += Buffer.byteLength(v);
  }
  return n + 64;
}
