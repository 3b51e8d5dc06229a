import { isRetriable } from './errors';

/** `baseMs · 2^attempt`, capped at `maxMs` (attempt counts from 0; the exponent is bounded so it never
 * overflows). The one capped exponential backoff of the processor's retry paths. */
export function cappedBackoff(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(0, attempt), 30));
}

/**
 * Runs a start-up step (registering schemas, say) until it succeeds, retrying what `isRetriable` accepts
 * with a capped backoff (0.5 s doubling to 10 s): a registry or broker that has only just come up answers
 * with timeouts for a while (Apicurio's KafkaSQL storage on a fresh three-broker cluster answered
 * "Timeout (10000ms)" once in test/e2e/failover.test.ts). The tenth failure, or one that is not retriable,
 * is thrown. `onRetry` says what failed before each wait.
 */
export async function retryStartupStep<T>(
  fn: () => Promise<T>,
  onRetry: (err: unknown, attempt: number) => void = () => undefined,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetriable(err) || attempt >= 9) throw err;
      onRetry(err, attempt);
      await new Promise((r) => setTimeout(r, cappedBackoff(attempt, 500, 10_000)));
    }
  }
}
