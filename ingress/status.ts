/**
 * The one place error codes become HTTP statuses. The mapping is a contract with Nylas's retry rules
 * (docs/nylas-contract.md §2.3): Nylas retries only 408, 429, 502, 503, 504 and 507 and drops
 * anything else for good. So every transient fault — and every error we did not expect — answers
 * 503 with Retry-After. A 500 would make Nylas drop the notification forever; it is never sent.
 */
import { type ErrorCode, ErrorCodes, NylasStreamError } from '../lib/errors';

export interface HttpOutcome {
  status: number;
  /** Seconds for the Retry-After header (set on every 503). */
  retryAfterSeconds: number | undefined;
  code: ErrorCode | 'INTERNAL';
  /** Whether Nylas will deliver the notification again after this answer. */
  nylasRetries: boolean;
}

/** Statuses Nylas retries (docs/nylas-contract.md §2.3). */
export const NYLAS_RETRIED_STATUSES: ReadonlySet<number> = new Set([408, 429, 502, 503, 504, 507]);

const BAD_INPUT_STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCodes.SIGNATURE_MISSING]: 401,
  [ErrorCodes.SIGNATURE_INVALID]: 401,
  [ErrorCodes.MALFORMED_JSON]: 400,
  [ErrorCodes.MALFORMED_ENVELOPE]: 400,
  [ErrorCodes.BODY_TOO_LARGE]: 413,
  [ErrorCodes.UNSUPPORTED_MEDIA_TYPE]: 415,
  [ErrorCodes.SOURCE_NOT_ALLOWED]: 403,
};

/** Transient faults with a more precise status than 503 (still one Nylas retries). */
const TRANSIENT_STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCodes.BODY_DEADLINE_EXCEEDED]: 408,
};

export function httpOutcomeFor(err: unknown, retryAfterSeconds: number): HttpOutcome {
  if (err instanceof NylasStreamError && !err.retriable) {
    const status = BAD_INPUT_STATUS[err.code];
    if (status !== undefined)
      return { status, retryAfterSeconds: undefined, code: err.code, nylasRetries: false };
  }
  // Transient faults (KAFKA_UNAVAILABLE, ACK_TIMEOUT, OVERLOADED, SHUTTING_DOWN, UNKNOWN_DESTINATION,
  // UNVERIFIED_BUDGET_FULL, BODY_DEADLINE_EXCEEDED), and anything unexpected: Nylas must try again.
  const code = err instanceof NylasStreamError ? err.code : 'INTERNAL';
  const status = code === 'INTERNAL' ? undefined : TRANSIENT_STATUS[code];
  if (status !== undefined) return { status, retryAfterSeconds: undefined, code, nylasRetries: true };
  return { status: 503, retryAfterSeconds, code, nylasRetries: true };
}
