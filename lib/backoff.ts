/** `baseMs · 2^attempt`, capped at `maxMs` (attempt counts from 0; the exponent is bounded so it never
 * overflows). The one capped exponential backoff of the processor's retry paths. */
export function cappedBackoff(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(0, attempt), 30));
}
