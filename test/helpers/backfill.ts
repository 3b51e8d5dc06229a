/** What the backfill integration tests share: the grant's state as last committed, and rate limiting. */
import { type GrantBackfillState, grantKey, parseGrantState } from '../../processors/backfill/records';
import type { TopicCollector } from './kafka';
import type { ProcessorHarness } from './processor-harness';

/** The grant's backfill state as the coordinator last committed it (a collector of the backfill topic). */
export function latestGrantState(
  backfillTopic: TopicCollector,
  grantId: string,
): GrantBackfillState | undefined {
  const key = grantKey(grantId);
  const mine = backfillTopic.records.filter((r) => r.key?.toString() === key);
  const latest = mine[mine.length - 1];
  return latest?.value ? parseGrantState(JSON.parse(latest.value.toString())) : undefined;
}

/** The grant's list calls the simulator answered so far. */
export function listCallsOf(h: ProcessorHarness, grantId: string) {
  const path = new RegExp(`^/v3/grants/${grantId}/[a-z]+$`);
  return h.api.requests.filter((r) => path.test(r.path));
}

/**
 * Rate limiting throughout: after every `every` answered list calls of the grant, the next one gets a
 * 429 with Retry-After: 1. Returns the function that stops it.
 */
export function rateLimitLists(h: ProcessorHarness, grantId: string, every: number): () => void {
  let answered = 0;
  const timer = setInterval(() => {
    const ok = listCallsOf(h, grantId).filter((r) => r.status === 200).length;
    if (ok >= answered + every && h.api.faults.pending().length === 0) {
      answered = ok;
      h.api.faults.enqueue({ match: { list: true, grantId }, status: 429, retryAfterSeconds: 1 });
    }
  }, 20);
  return () => clearInterval(timer);
}
