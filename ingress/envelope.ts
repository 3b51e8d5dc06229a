/**
 * Just enough parsing to route a notification (ARCHITECTURE.md, Ingress step 3): the `id`, the
 * `type`, the delivery attempt and the grant id that becomes the Kafka key. Validation of the whole
 * envelope is the processor's job (it dead-letters with a reason, re-drivably); the ingress must not
 * drop a validly signed notification because of a field it does not need — a trigger Nylas adds
 * tomorrow may have no grant id at all, and is then keyed by its application id.
 */
import { gunzip } from 'node:zlib';
import { BadInputError, ErrorCodes } from '../lib/errors';
import { bodyTooLarge } from './body';

export type GrantIdSource = 'data.object.grant_id' | 'data.grant_id' | 'data.application_id' | 'none';

export interface EnvelopeSummary {
  id: string | undefined;
  type: string | undefined;
  deliveryAttempt: number | undefined;
  /** The Kafka key: the grant id, else the application id, else undefined (no key). */
  key: string | undefined;
  keySource: GrantIdSource;
}

/** Content encodings the ingress accepts (anything else is 415). */
export type ContentEncoding = 'identity' | 'gzip';

function asNonEmptyString(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

/** Inflates a gzip body (after its signature was verified on the compressed bytes), bounded. */
export function gunzipBounded(body: Buffer, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gunzip(body, { maxOutputLength: maxBytes }, (err, out) => {
      if (!err) return resolve(out);
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        return reject(bodyTooLarge(maxBytes, { inflatedOver: maxBytes }));
      }
      reject(
        new BadInputError(ErrorCodes.MALFORMED_JSON, 'Content-Encoding is gzip but the body is not gzip'),
      );
    });
  });
}

export function summarizeEnvelope(json: Buffer): EnvelopeSummary {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString('utf8'));
  } catch {
    throw new BadInputError(ErrorCodes.MALFORMED_JSON, 'the body is not valid JSON');
  }
  const envelope = asRecord(parsed);
  if (envelope === undefined) {
    throw new BadInputError(ErrorCodes.MALFORMED_ENVELOPE, 'the body is JSON but not an object');
  }
  const data = asRecord(envelope.data);
  const object = asRecord(data?.object);
  let key: string | undefined;
  let keySource: GrantIdSource = 'none';
  const fromObject = asNonEmptyString(object?.grant_id);
  const fromData = asNonEmptyString(data?.grant_id);
  const fromApp = asNonEmptyString(data?.application_id);
  if (fromObject !== undefined) {
    key = fromObject;
    keySource = 'data.object.grant_id';
  } else if (fromData !== undefined) {
    key = fromData;
    keySource = 'data.grant_id';
  } else if (fromApp !== undefined) {
    key = fromApp;
    keySource = 'data.application_id';
  }
  const attempt = envelope.webhook_delivery_attempt;
  return {
    id: asNonEmptyString(envelope.id),
    type: asNonEmptyString(envelope.type),
    deliveryAttempt: typeof attempt === 'number' && Number.isInteger(attempt) ? attempt : undefined,
    key,
    keySource,
  };
}

/** Decodes (gunzip when needed) and summarizes a verified body. */
export async function readEnvelope(
  body: Buffer,
  encoding: ContentEncoding,
  maxInflatedBytes: number,
): Promise<EnvelopeSummary> {
  const json = encoding === 'gzip' ? await gunzipBounded(body, maxInflatedBytes) : body;
  return summarizeEnvelope(json);
}
