/**
 * Just enough parsing to route a notification (docs/architecture.md, "Ingress" step 3): the `id`, the
 * `type`, the delivery attempt and the grant id that becomes the Kafka key. Validation of the whole
 * envelope is the processor's job (it dead-letters with a reason, re-drivably); the ingress must not
 * drop a validly signed notification because of a field it does not need — a trigger Nylas adds
 * tomorrow may have no grant id at all, and is then keyed by its application id.
 */
import { gunzip } from 'node:zlib';
import { BadInputError, ErrorCodes } from '../lib/errors';
import { isObj, nonEmptyText } from '../lib/json';
import { type ContentEncoding, type GrantIdSource, grantKeyOf } from '../lib/raw-record';
import { bodyTooLarge } from './body';

export type { ContentEncoding, GrantIdSource } from '../lib/raw-record';

export interface EnvelopeSummary {
  id: string | undefined;
  type: string | undefined;
  deliveryAttempt: number | undefined;
  /** The Kafka key: lib/raw-record.ts grantKeyOf (the grant id, else the application id, else none). */
  key: string | undefined;
  keySource: GrantIdSource;
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
  if (!isObj(parsed)) {
    throw new BadInputError(ErrorCodes.MALFORMED_ENVELOPE, 'the body is JSON but not an object');
  }
  const envelope = parsed;
  const { key, source: keySource } = grantKeyOf(envelope);
  const attempt = envelope.webhook_delivery_attempt;
  return {
    id: nonEmptyText(envelope.id),
    type: nonEmptyText(envelope.type),
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
