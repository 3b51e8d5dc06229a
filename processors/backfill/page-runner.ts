/**
 * Fetches the next page of a running backfill, with the expand stage's policy for failures
 * (processors/stages/expand.ts) on the instance's shared API budget (processors/api-budget.ts):
 *
 * - 200 → the page.
 * - 429 → the grant cools down for Retry-After (for expansions of the grant too), else exponential
 *   backoff with full jitter; retried.
 * - 408, 5xx, timeouts, connection errors → backoff; retried.
 * - 401 → the grant expired again: the backfill stops (blocked) until the grant re-authenticates; a
 *   retry cannot succeed before that.
 * - 404 on a calendar's events → the calendar was deleted meanwhile: its events are skipped.
 * - any other 4xx → the request is refused: the backfill fails, and says why.
 *
 * Transient failures are retried without a deadline: giving up would drop what the gap holds. A backfill
 * that cannot get through stays running, and its age is what `nylas_stream_backfill_oldest_running_seconds`
 * and the NylasStreamBackfillStuck alert watch (docs/runbooks.md).
 */
import { cappedBackoff } from '../../lib/backoff';
import type { ApiBudget, Slots } from '../api-budget';
import { ApiCallError, classifyApiStatus } from '../stages/expand';
import type { ListPage, PageFetcher } from './list-client';
import { nextCall, type PageCall } from './listing';
import type { RunningBackfill } from './records';

export type CallOutcome = 'ok' | ReturnType<typeof classifyApiStatus>;

export interface PageRunnerOptions {
  fetch: PageFetcher;
  budget: ApiBudget;
  /** BACKFILL_CONCURRENCY: list calls hold one of these and one of the budget's slots. */
  backfillSlots: Slots;
  requestTimeoutMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  pageSize: number;
  now?: () => number;
  random?: () => number;
  /** Each call's outcome, by listing (metrics). */
  observe?: (listing: string, outcome: CallOutcome) => void;
}

export type PageResult =
  | { kind: 'page'; call: PageCall; page: ListPage; calls: number }
  /** A listing that cannot be read any more and is skipped (a deleted calendar's events). */
  | { kind: 'skipped'; call: PageCall; calls: number; detail: string }
  | { kind: 'done' }
  | { kind: 'unauthorized'; calls: number; detail: string }
  | { kind: 'rejected'; calls: number; detail: string };

export class AbortedError extends Error {
  constructor() {
    super('backfill stopped');
    this.name = 'AbortedError';
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(new AbortedError());
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortedError());
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export class PageRunner {
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly o: PageRunnerOptions) {
    this.now = o.now ?? Date.now;
    this.random = o.random ?? Math.random;
  }

  async next(running: RunningBackfill, signal: AbortSignal): Promise<PageResult> {
    const call = nextCall(running, this.o.pageSize);
    if (call === 'done') return { kind: 'done' };
    const grantId = running.request.grantId;
    for (let attempt = 0, calls = 0; ; attempt++) {
      const cooldown = this.o.budget.cooldowns.left(grantId);
      if (cooldown > 0) await sleep(cooldown, signal);
      if (signal.aborted) throw new AbortedError();
      calls++;
      try {
        const page = await this.call(call, signal);
        this.o.observe?.(call.listing, 'ok');
        return { kind: 'page', call, page, calls };
      } catch (err) {
        if (err instanceof AbortedError || signal.aborted) throw new AbortedError();
        const e =
          err instanceof ApiCallError ? err : new ApiCallError((err as Error).message, undefined, undefined);
        const outcome = classifyApiStatus(e.status);
        this.o.observe?.(call.listing, outcome);
        const detail = `${call.path}: ${e.message}`;
        if (outcome === 'unauthorized') return { kind: 'unauthorized', calls, detail };
        if (outcome === 'not_found' && call.listing === 'events')
          return { kind: 'skipped', call, calls, detail };
        if (outcome === 'not_found' || outcome === 'rejected') return { kind: 'rejected', calls, detail };
        const jittered = Math.floor(
          this.random() * cappedBackoff(attempt, this.o.backoffBaseMs, this.o.backoffMaxMs),
        );
        const wait = Math.max(jittered, e.retryAfterMs ?? 0);
        if (outcome === 'rate_limited' && e.retryAfterMs !== undefined) {
          this.o.budget.cooldowns.coolDown(grantId, this.now() + wait);
        }
        await sleep(wait, signal);
      }
    }
  }

  /** One call, holding a backfill slot and a slot of the instance's budget for exactly its duration. */
  private async call(call: PageCall, signal: AbortSignal): Promise<ListPage> {
    await this.o.backfillSlots.acquire();
    try {
      await this.o.budget.slots.acquire();
      try {
        return await this.o.fetch(call.path, call.query, this.o.requestTimeoutMs, signal);
      } finally {
        this.o.budget.slots.release();
      }
    } finally {
      this.o.backfillSlots.release();
    }
  }
}
