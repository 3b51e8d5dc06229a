/**
 * The one place error codes become HTTP statuses. The mapping is a contract with Nylas's retry rules
 * (docs/nylas-contract.md §2.3): Nylas retries only 408, 429, 502, 503, 504 and 507 and drops
 * anything else for good. So every transient fault — and every error we did not expect — answers
 * 503 with Retry-After. A 500 would make Nylas drop the notification forever; it is never sent.
 */
import { type ErrorCode, errorCodeOf, httpStatusOf, isRetriable } from '../lib/errors';

export interface HttpOutcome {
  status: number;
  /** Seconds for the Retry-After header (set on every 503). */
  retryAfterSeconds: number | undefined;
  code: ErrorCode;
  /** Whether Nylas will deliver the notification again after this answer. */
  nylasRetries: boolean;
}

/** Statuses Nylas retries (docs/nylas-contract.md §2.3). */
export const NYLAS_RETRIED_STATUSES: ReadonlySet<number> = new Set([408, 429, 502, 503, 504, 507]);

/** The status is FAILURE_CODES' (lib/errors.ts); a code without one — a transient fault raised where no
 * status was foreseen, or an error that is not ours (INTERNAL) — answers 503: Nylas must try again. */
export function httpOutcomeFor(err: unknown, retryAfterSeconds: number): HttpOutcome {
  const code = errorCodeOf(err);
  const status = httpStatusOf(code, isRetriable(err)) ?? 503;
  return {
    status,
    retryAfterSeconds: status === 503 ? retryAfterSeconds : undefined,
    code,
    nylasRetries: NYLAS_RETRIED_STATUSES.has(status),
  };
}
