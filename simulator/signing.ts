/**
 * X-Nylas-Signature (docs/nylas-contract.md §2.1): lowercase hex HMAC-SHA256 of the exact bytes
 * sent, keyed by the destination's `webhook_secret` string used as-is (UTF-8, no base64 decoding). With
 * compressed delivery the signed bytes are the gzip bytes. No prefix, no timestamp.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'X-Nylas-Signature';

/** The secret `send-test-event` signs with, whatever the destination's secret is (§6.6). */
export const MOCK_WEBHOOK_SECRET = 'mock-webhook-secret';

/** Lowercase hex HMAC-SHA256 of the exact bytes (§2.1). A string body is taken as UTF-8. */
export function signBody(body: Buffer | string, secret: string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/** Constant-time check of a received signature header against the body (§2.1 "Comparison"). */
export function verifySignature(
  body: Buffer | string,
  secret: string,
  signature: string | undefined,
): boolean {
  if (signature === undefined) return false;
  const expected = Buffer.from(signBody(body, secret), 'utf8');
  const given = Buffer.from(signature.trim().toLowerCase(), 'utf8');
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/**
 * Standard Webhooks v1 signature (§8), for a sender's optional "standard" mode. Nylas never sends it;
 * it exists so a receiver that also accepts other senders can be tested. Key = base64-decoded bytes
 * after `whsec_`; signed content = `${id}.${timestamp}.${body}`.
 */
export function signStandardWebhook(
  body: Buffer | string,
  secret: string,
  webhookId: string,
  timestampSeconds: number,
): string {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
  const mac = createHmac('sha256', key)
    .update(`${webhookId}.${timestampSeconds}.`)
    .update(body)
    .digest('base64');
  return `v1,${mac}`;
}
