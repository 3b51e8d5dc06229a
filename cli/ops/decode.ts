/**
 * Turns a record value into something a person can read: Confluent-framed Avro through the schema
 * registry, gzip-compressed bodies (raw topic, content-encoding: gzip) unpacked, then JSON, text, or
 * base64 for anything else. Never throws: an undecodable value is shown as bytes with the reason.
 */
import { gunzipSync } from 'node:zlib';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { IHeaders } from 'kafkajs';
import { bodyEncodingOf } from '../../lib/raw-record';

/** Kept under their CLI names. */
export { headersAsStrings, headerText as headerValue } from '../../lib/raw-record';

export type DecodedValue =
  | { format: 'avro'; schemaId: number; value: unknown }
  | { format: 'json'; value: unknown; gzip?: true }
  | { format: 'text'; value: string; gzip?: true }
  | { format: 'binary'; value: string; error?: string }
  | { format: 'tombstone'; value: null };

/** The registry's part that decoding needs (so tests can pass a stub). */
export type AvroDecoder = Pick<SchemaRegistry, 'decode'>;

function isConfluentFramed(buf: Buffer): boolean {
  return buf.length >= 5 && buf[0] === 0;
}

function isPrintable(text: string): boolean {
  // U+FFFD means the bytes were not UTF-8; other control characters (except whitespace) mean binary.
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === 0xfffd || (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d)) return false;
  }
  return true;
}

function textOrJson(buf: Buffer, gzip: boolean): DecodedValue {
  const text = buf.toString('utf8');
  const extra = gzip ? { gzip: true as const } : {};
  try {
    return { format: 'json', value: JSON.parse(text), ...extra };
  } catch {
    if (isPrintable(text)) return { format: 'text', value: text, ...extra };
    return { format: 'binary', value: buf.toString('base64') };
  }
}

export async function decodeValue(
  value: Buffer | null,
  headers: IHeaders | undefined,
  registry: AvroDecoder | undefined,
): Promise<DecodedValue> {
  if (value === null) return { format: 'tombstone', value: null };
  if (isConfluentFramed(value) && registry) {
    const schemaId = value.readInt32BE(1);
    try {
      return { format: 'avro', schemaId, value: await registry.decode(value) };
    } catch (err) {
      return {
        format: 'binary',
        value: value.toString('base64'),
        error: `Avro schema ${schemaId}: ${(err as Error).message}`,
      };
    }
  }
  // The processor's rule (lib/raw-record.ts): a gzip header or the gzip magic bytes.
  if (bodyEncodingOf({ key: null, value, headers }).kind === 'gzip') {
    try {
      return textOrJson(gunzipSync(value), true);
    } catch (err) {
      return { format: 'binary', value: value.toString('base64'), error: `gzip: ${(err as Error).message}` };
    }
  }
  return textOrJson(value, false);
}

/** JSON.stringify that survives what Avro decoding produces (bigint longs, bytes as Buffers). */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(
    value,
    function replacer(this: unknown, key: string, v: unknown) {
      if (typeof v === 'bigint') return v.toString();
      const raw = (this as Record<string, unknown>)[key];
      if (Buffer.isBuffer(raw)) return raw.toString('base64');
      return v;
    },
    indent,
  );
}
