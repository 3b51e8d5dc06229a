/**
 * decode: one record of nylas.webhooks.raw → a validated Notification, or a DeadLetter with a reason
 * (ARCHITECTURE.md, "Processors" step 1). Gunzips when the ingress stored a compressed body, parses the
 * JSON, validates the envelope (nylas-webhooks-contract.md §1) and precomputes what later stages need:
 * trigger family (by prefix, suffixes stripped), grant, object identity and ordering version. Unknown
 * trigger types are carried (family "unmodeled"), never dropped. Pure.
 */
import { gunzipSync } from 'node:zlib';
import type { IHeaders } from 'kafkajs';
import { classifyTrigger } from '../triggers';
import type { DeadLetter, DeadLetterReason, Notification, NylasEnvelope, RawRecord } from '../types';
import { objectKeyOf, versionOf } from './order';

/** Header names written by the ingress (ARCHITECTURE.md, "Ingress" step 4). */
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

export type DecodeResult = { ok: true; notification: Notification } | { ok: false; deadLetter: DeadLetter };

export function headerText(headers: IHeaders, name: string): string | undefined {
  const v = headers[name];
  const first = Array.isArray(v) ? v[0] : v;
  if (first === undefined) return undefined;
  return Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
}

function fail(record: RawRecord, reason: DeadLetterReason, message: string): DecodeResult {
  return {
    ok: false,
    deadLetter: { record, reason, message, stage: 'decode', redrivable: false, code: reason },
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function nonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

/** Nylas sends integer Unix seconds; an RFC 3339 string (strict CloudEvents) is accepted too. */
function envelopeTime(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  if (typeof v === 'string' && v.trim() !== '') {
    if (/^\d+$/.test(v.trim())) return Number(v.trim());
    const ms = Date.parse(v);
    if (Number.isFinite(ms)) return Math.floor(ms / 1000);
  }
  return undefined;
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

function body(record: RawRecord): { bytes: Buffer } | { error: string } {
  const value = record.value;
  if (value === null || value.length === 0) return { error: 'empty record value' };
  const encoding = headerText(record.headers, RAW_HEADERS.contentEncoding)?.trim().toLowerCase();
  // The magic bytes also catch a gzip body whose header was lost (JSON never starts with 0x1f).
  const looksGzip = value.length >= 2 && value[0] === GZIP_MAGIC_0 && value[1] === GZIP_MAGIC_1;
  if (encoding === 'gzip' || encoding === 'x-gzip' || looksGzip) {
    try {
      return { bytes: gunzipSync(value) };
    } catch (err) {
      return { error: `gunzip failed: ${(err as Error).message}` };
    }
  }
  if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
    return { error: `unsupported content-encoding "${encoding}"` };
  }
  return { bytes: value };
}

/** Validates the envelope shape; returns the problem, or undefined when usable. */
function envelopeProblem(e: Record<string, unknown>): string | undefined {
  for (const field of ['specversion', 'type', 'source', 'id'] as const) {
    if (!nonEmptyString(e[field])) return `"${field}" must be a non-empty string`;
  }
  if (envelopeTime(e.time) === undefined) return '"time" must be Unix seconds';
  if (!isObject(e.data)) return '"data" must be an object';
  if (!nonEmptyString(e.data.application_id)) return '"data.application_id" must be a non-empty string';
  if (e.data.object !== undefined && e.data.object !== null && !isObject(e.data.object)) {
    return '"data.object" must be an object or null';
  }
  return undefined;
}

export function decode(record: RawRecord): DecodeResult {
  const b = body(record);
  if ('error' in b) return fail(record, 'DECOMPRESS_FAILED', b.error);
  let parsed: unknown;
  try {
    parsed = JSON.parse(b.bytes.toString('utf8'));
  } catch (err) {
    return fail(record, 'MALFORMED_JSON', `body is not JSON: ${(err as Error).message}`);
  }
  if (!isObject(parsed)) return fail(record, 'MALFORMED_ENVELOPE', 'body is not a JSON object');
  const problem = envelopeProblem(parsed);
  if (problem !== undefined) return fail(record, 'MALFORMED_ENVELOPE', problem);

  const data = parsed.data as NylasEnvelope['data'];
  const envelope: NylasEnvelope = {
    ...(parsed as unknown as NylasEnvelope),
    time: envelopeTime(parsed.time) as number,
    data: { ...data, object: isObject(data.object) ? data.object : null },
  };
  const info = classifyTrigger(envelope.type);
  const o = envelope.data.object;
  const grantId =
    (o && nonEmptyString(o.grant_id) ? o.grant_id : undefined) ??
    (nonEmptyString(data.grant_id) ? data.grant_id : undefined) ??
    data.application_id;
  const receivedHeader = Number(headerText(record.headers, RAW_HEADERS.receivedAt));
  const receivedAt =
    Number.isFinite(receivedHeader) && receivedHeader > 0 ? receivedHeader : Number(record.timestamp);
  return {
    ok: true,
    notification: {
      record,
      envelope,
      ...info,
      grantId,
      applicationId: data.application_id,
      object: objectKeyOf(info, envelope, grantId),
      version: versionOf(info, envelope),
      receivedAt,
      expanded: false,
      goneOnExpand: false,
    },
  };
}

/** Decodes a batch, keeping input order. */
export function decodeBatch(records: readonly RawRecord[]): {
  notifications: Notification[];
  deadLetters: DeadLetter[];
} {
  const notifications: Notification[] = [];
  const deadLetters: DeadLetter[] = [];
  for (const r of records) {
    const d = decode(r);
    if (d.ok) notifications.push(d.notification);
    else deadLetters.push(d.deadLetter);
  }
  return { notifications, deadLetters };
}
