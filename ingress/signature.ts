/**
 * X-Nylas-Signature verification (docs/nylas-contract.md §2.1): lowercase hex HMAC-SHA256 of the
 * exact request bytes as received (the gzip bytes for compressed delivery), keyed by the destination's
 * secret string as UTF-8. Checked in constant time against every candidate secret, so rotation (two
 * secrets at once) works and the time taken does not reveal which secret, if any, matched.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-nylas-signature';

export type SignatureFailure = 'missing' | 'malformed' | 'mismatch' | 'no_secret';

export type SignatureResult = { ok: true; secretIndex: number } | { ok: false; reason: SignatureFailure };

const HEX_SHA256 = /^[0-9a-f]{64}$/;

/** Lowercase hex HMAC-SHA256 of `body` keyed by `secret` (what Nylas sends). */
export function signBody(body: Buffer | string, secret: string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/**
 * Normalizes a received header value: trimmed, lowercased hex. Node joins repeated headers with
 * ", ", which fails the shape check, so a request with two signature headers is "malformed".
 */
export function parseSignatureHeader(value: string | string[] | undefined): Buffer | SignatureFailure {
  if (value === undefined) return 'missing';
  const text = (Array.isArray(value) ? value.join(', ') : value).trim().toLowerCase();
  if (text === '') return 'missing';
  if (!HEX_SHA256.test(text)) return 'malformed';
  return Buffer.from(text, 'hex');
}

export function verifySignature(
  body: Buffer,
  header: string | string[] | undefined,
  secrets: readonly string[],
): SignatureResult {
  const given = parseSignatureHeader(header);
  if (typeof given === 'string') return { ok: false, reason: given };
  if (secrets.length === 0) return { ok: false, reason: 'no_secret' };
  let matched = -1;
  // Every secret is tried (no early exit) so timing does not depend on which one matched.
  secrets.forEach((secret, index) => {
    const expected = createHmac('sha256', secret).update(body).digest();
    if (timingSafeEqual(expected, given) && matched === -1) matched = index;
  });
  return matched === -1 ? { ok: false, reason: 'mismatch' } : { ok: true, secretIndex: matched };
}
