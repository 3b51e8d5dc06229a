/**
 * The record the ingress writes to nylas.webhooks.raw. Its contract (header names, key, encoding) is
 * lib/raw-record.ts, shared with every reader; this module keeps the ingress's names for it and the
 * size estimate its batcher needs.
 */
import type { Message } from 'kafkajs';
import { encodeRawRecord, type RawNotification as RawRecordInput } from '../lib/raw-record';
import type { EnvelopeSummary } from './envelope';

export { RAW_HEADERS } from '../lib/raw-record';

export interface RawNotification extends RawRecordInput {
  envelope: EnvelopeSummary;
}

export function buildRawRecord(n: RawNotification): Message {
  return encodeRawRecord(n);
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
