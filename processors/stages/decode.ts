/**
 * decode: one record of nylas.webhooks.raw → a validated Notification, or a DeadLetter with a reason
 * (docs/architecture.md, "Processors" step 1). Gunzips when the ingress stored a compressed body, parses the
 * JSON, validates the envelope (docs/nylas-contract.md §1) and precomputes what later stages need:
 * trigger family (by prefix, suffixes stripped), grant, object identity and ordering version. Unknown
 * trigger types are carried (family "unmodeled"), never dropped. Pure.
 */
import { gunzipSync } from 'node:zlib';
import { type DeadLetterReason, errorCodeOf, thrownText } from '../../lib/errors';
import { isObj, nonEmptyText } from '../../lib/json';
import { bodyEncodingOf, grantKeyOf, originOf, receivedAtOf } from '../../lib/raw-record';
import { deadLetterOf } from '../dead-letter';
import { MAX_UNIX_SECONDS, objectKeyOf, versionOf } from '../object-identity';
import { classifyTrigger } from '../triggers';
import type { DeadLetter, Notification, NylasEnvelope, RawRecord } from '../types';

/** The raw record's contract is lib/raw-record.ts; these names stay importable from here. */

/**
 * Longest id (notification, type, application, grant, object) accepted. Real ones are under ~200
 * characters; an id this long can only be an accident or an attack, and would be carried into every
 * domain event, header, log line and state entry of its object (ID_TOO_LONG, never re-drivable).
 */
export const MAX_ID_CHARS = 4096;

/**
 * Deepest JSON nesting accepted. Later stages walk the payload recursively (JSON.stringify of unmodeled
 * objects and metadata), and a body nested some thousands of levels deep overflows the stack there;
 * real notifications nest under ten levels (TOO_DEEPLY_NESTED, never re-drivable).
 */
export const MAX_JSON_DEPTH = 128;

export type DecodeResult = { ok: true; notification: Notification } | { ok: false; deadLetter: DeadLetter };

function fail(record: RawRecord, reason: DeadLetterReason, message: string, code?: string): DecodeResult {
  return { ok: false, deadLetter: deadLetterOf(record, reason, 'decode', message, code) };
}

/** Nylas sends integer Unix seconds; an RFC 3339 string (strict CloudEvents) is accepted too. Anything
 * outside [0, MAX_UNIX_SECONDS] is refused: a 400-digit numeric string is Infinity, and a version built
 * from a finite but absurd time cannot be published. */
function envelopeTime(v: unknown): number | undefined {
  let t: number | undefined;
  if (typeof v === 'number') t = v;
  else if (typeof v === 'string' && v.trim() !== '') {
    if (/^\d+$/.test(v.trim())) t = Number(v.trim());
    else {
      const ms = Date.parse(v);
      if (Number.isFinite(ms)) t = Math.floor(ms / 1000);
    }
  }
  return t !== undefined && t >= 0 && t <= MAX_UNIX_SECONDS ? t : undefined;
}

/**
 * True when valid JSON `bytes` nest deeper than `max` (brackets outside strings; one pass, no parse).
 * Strings, most of a notification's bytes (bodies, snippets), are skipped with Buffer.indexOf (native)
 * to their closing quote instead of byte by byte: a quote is escaped when an odd number of backslashes
 * precedes it (`"` and `\` never occur inside a multi-byte UTF-8 sequence). The same answer as walking
 * every byte (test/unit/processors/stages/decode-nesting.test.ts), at a quarter of the cost: the byte
 * walk was ~4 % of the processor's main thread (docs/benchmarks.md, "Processor CPU per record, issue 15").
 */
export function nestsDeeperThan(bytes: Buffer, max: number): boolean {
  let depth = 0;
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const c = bytes[i];
    if (c === 0x22) {
      let end = i;
      for (;;) {
        end = bytes.indexOf(0x22, end + 1);
        // Unterminated: nothing after it counts (what the byte walk does too).
        if (end < 0) return false;
        let backslash = end - 1;
        while (bytes[backslash] === 0x5c) backslash--;
        if ((end - 1 - backslash) % 2 === 0) break;
      }
      i = end;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** The first id longer than MAX_ID_CHARS, named, with its length. */
function overlongId(ids: Record<string, string>): string | undefined {
  // for…in, not Object.entries: no array of pairs per record (decode runs once per record).
  for (const name in ids) {
    const id = ids[name] as string;
    if (id.length > MAX_ID_CHARS) return `"${name}" is ${id.length} characters (at most ${MAX_ID_CHARS})`;
  }
  return undefined;
}

function body(record: RawRecord): { bytes: Buffer } | { error: string } {
  const value = record.value;
  if (value === null || value.length === 0) return { error: 'empty record value' };
  const encoding = bodyEncodingOf(record);
  if (encoding.kind === 'gzip') {
    try {
      return { bytes: gunzipSync(value) };
    } catch (err) {
      return { error: `gunzip failed: ${(err as Error).message}` };
    }
  }
  if (encoding.kind === 'unsupported')
    return { error: `unsupported content-encoding "${encoding.encoding}"` };
  return { bytes: value };
}

/** Validates the envelope shape; returns the problem, or undefined when usable. */
function envelopeProblem(e: Record<string, unknown>): string | undefined {
  for (const field of ['specversion', 'type', 'source', 'id'] as const) {
    if (nonEmptyText(e[field]) === undefined) return `"${field}" must be a non-empty string`;
  }
  if (envelopeTime(e.time) === undefined) {
    return `"time" must be Unix seconds from 0 to ${MAX_UNIX_SECONDS} (or an RFC 3339 date in that range)`;
  }
  if (!isObj(e.data)) return '"data" must be an object';
  if (nonEmptyText(e.data.application_id) === undefined)
    return '"data.application_id" must be a non-empty string';
  if (e.data.object !== undefined && e.data.object !== null && !isObj(e.data.object)) {
    return '"data.object" must be an object or null';
  }
  return undefined;
}

/**
 * Never throws: whatever the record holds becomes a notification or a dead letter. An exception here is a
 * bug meeting a body nobody foresaw: DECODE_FAILED, re-drivable once the bug is fixed, and the round goes
 * on (retrying a pure function on the same bytes would fail the same way, forever).
 */
export function decode(record: RawRecord): DecodeResult {
  try {
    return decodeRecord(record);
  } catch (err) {
    return fail(record, 'DECODE_FAILED', `decode threw ${thrownText(err)}`, errorCodeOf(err));
  }
}

function decodeRecord(record: RawRecord): DecodeResult {
  const b = body(record);
  if ('error' in b) return fail(record, 'DECOMPRESS_FAILED', b.error);
  let parsed: unknown;
  try {
    parsed = JSON.parse(b.bytes.toString('utf8'));
  } catch (err) {
    return fail(record, 'MALFORMED_JSON', `body is not JSON: ${(err as Error).message}`);
  }
  if (nestsDeeperThan(b.bytes, MAX_JSON_DEPTH)) {
    return fail(record, 'TOO_DEEPLY_NESTED', `body nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
  if (!isObj(parsed)) return fail(record, 'MALFORMED_ENVELOPE', 'body is not a JSON object');
  const problem = envelopeProblem(parsed);
  if (problem !== undefined) return fail(record, 'MALFORMED_ENVELOPE', problem);

  const data = parsed.data as NylasEnvelope['data'];
  const envelope: NylasEnvelope = {
    ...(parsed as unknown as NylasEnvelope),
    time: envelopeTime(parsed.time) as number,
    data: { ...data, object: isObj(data.object) ? data.object : null },
  };
  const info = classifyTrigger(envelope.type);
  // The same key the ingress wrote (a valid envelope always has an application id to fall back on).
  const grantId = grantKeyOf(envelope).key ?? data.application_id;
  const object = objectKeyOf(info, envelope, grantId);
  const overlong = overlongId({
    id: envelope.id,
    type: envelope.type,
    'data.application_id': data.application_id,
    'grant id': grantId,
    'object id': object.objectId,
  });
  if (overlong !== undefined) return fail(record, 'ID_TOO_LONG', overlong);
  const receivedAt = receivedAtOf(record);
  const origin = originOf(record);
  return {
    ok: true,
    notification: {
      record,
      envelope,
      ...info,
      grantId,
      applicationId: data.application_id,
      object,
      version: versionOf(info, envelope, origin),
      origin,
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
