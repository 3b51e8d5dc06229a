/**
 * Nylas's delivery rules for one notification (docs/nylas-contract.md §2.1, §2.3, §9 #1–#3):
 * success is exactly 200 (strict by default); only 408, 429, 502, 503, 504, 507, timeouts and
 * connection errors are retried; 3 attempts in total, the last 10–20 minutes after the first; the wait
 * is max(backoff, Retry-After).
 */

/** §2.3 / §9 #1: DOC-NOTIF's list of six wins over ASYNC's four. */
export const RETRIED_STATUSES: ReadonlySet<number> = new Set([408, 429, 502, 503, 504, 507]);

/** §2.3 / §9 #2: three attempts in total (the first plus two retries). */
export const MAX_ATTEMPTS = 3;

/**
 * §9 #2: the intermediate delays are unpublished; "about 1–2 min, then about 15 min" puts the last
 * attempt 16.5 minutes after the first, inside the documented 10–20 minute window.
 */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [90_000, 900_000];

/** §2.1: the destination must answer within 10 seconds. */
export const DEFAULT_TIMEOUT_MS = 10_000;

export type AttemptResult =
  | { kind: 'response'; status: number; retryAfter?: string }
  | { kind: 'timeout' }
  | { kind: 'connection_error' };

export type AttemptVerdict = 'delivered' | 'retry' | 'give_up';

/** What Nylas makes of one attempt. `acceptAny2xx` is §9 #3's optional lenient mode. */
export function judgeAttempt(
  result: AttemptResult,
  options: { acceptAny2xx?: boolean } = {},
): AttemptVerdict {
  if (result.kind !== 'response') return 'retry'; // §2.3 "a timeout or no response also leads to retry"
  const s = result.status;
  if (s === 200 || (options.acceptAny2xx === true && s >= 200 && s < 300)) return 'delivered';
  // Every other status, 3xx included (never followed), 500 and 501 included, is permanent (§2.3).
  return RETRIED_STATUSES.has(s) ? 'retry' : 'give_up';
}

/** Parses Retry-After (delta seconds or an HTTP date) into milliseconds from `nowMs`. */
export function parseRetryAfterMs(header: string | undefined, nowMs: number): number | undefined {
  if (header === undefined) return undefined;
  const v = header.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const date = Date.parse(v);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

/**
 * Delay before attempt `failedAttempt + 1`: the configured backoff (with optional ±jitter, `unit` a
 * uniform draw in [0, 1)), but never shorter than Retry-After (§2.3 "wait max(backoff, Retry-After)").
 */
export function retryDelayMs(
  failedAttempt: number,
  options: { delaysMs?: readonly number[]; retryAfterMs?: number; jitter?: number; unit?: number } = {},
): number {
  const delays = options.delaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const base = delays[Math.min(failedAttempt - 1, delays.length - 1)] ?? 0;
  const jitter = options.jitter ?? 0;
  const backoff = Math.round(base * (1 + jitter * (2 * (options.unit ?? 0.5) - 1)));
  return Math.max(backoff, options.retryAfterMs ?? 0);
}
