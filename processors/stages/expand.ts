/**
 * expand: a `message.*.truncated` notification arrives without its body (payloads over 1 MB,
 * docs/nylas-contract.md §4.1), so the full message is fetched through the Nylas API with the official
 * SDK (docs/architecture.md, "Processors" step 4). Only `message.*` is ever truncated.
 *
 * Outcomes and policy:
 * - 200 → the notification carries the fetched object (`expanded`).
 * - 404 → the message is gone (deleted at the provider, or re-keyed): emitted as deleted (`goneOnExpand`),
 *   never retried (§4.2).
 * - 401 → the grant is invalid: DLQ, re-drivable once the grant re-authenticates. Not retried.
 * - other 4xx (400, 403, …) → not transient: DLQ at once, re-drivable after a fix.
 * - 408, 429, 5xx, timeouts, connection errors → retried with exponential backoff and full jitter, never
 *   sooner than `Retry-After` (seconds or an HTTP date), until the deadline → DLQ (NYLAS_API_DEADLINE).
 *
 * A 429 with Retry-After cools down the whole grant (Nylas limits are per grant), so its other truncated
 * messages wait too instead of hammering the API; other grants are unaffected. Concurrency is bounded over
 * the whole instance, and a slot is held only during an HTTP call, never during a wait. The SDK's own
 * timeout is set to the per-call budget and it has no retries of its own, so this module governs both.
 *
 * A call that reaches its timeout is aborted, not abandoned: the fetcher gets an AbortSignal and the slot
 * is given back only once the call has ended, so EXPANSION_CONCURRENCY bounds the calls really open at
 * the API, also when it stops answering. A grant's cool-down entry is removed when it expires, so the
 * map holds only grants cooling down now, not every grant ever rate-limited.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import Nylas, { NylasApiError, NylasSdkTimeoutError } from 'nylas';
import { ErrorCodes } from '../../lib/errors';
import { isObj, type Obj } from '../../lib/json';
import { type ApiBudget, apiBudget, type GrantCooldowns, type Slots } from '../api-budget';
import { approximateBytes, type ExpansionBudget, type ExpansionHold } from '../expansion-budget';
import { objectKeyString } from '../object-identity';
import type { DeadLetter, DeadLetterReason, Notification } from '../types';

export function needsExpansion(n: Notification): boolean {
  return n.family === 'message' && n.suffixes.includes('truncated') && n.action !== 'deleted';
}

/** A failed API call, reduced to what the policy needs. */
export class ApiCallError extends Error {
  constructor(
    message: string,
    /** HTTP status; undefined for timeouts and connection errors. */
    readonly status: number | undefined,
    readonly retryAfterMs: number | undefined,
  ) {
    super(message);
    this.name = 'ApiCallError';
  }
}

/** Fetches one message (snake_case JSON as Nylas sends it); throws ApiCallError. When `signal` aborts,
 * the call must end (its request closed) and the promise settle promptly. */
export type MessageFetcher = (
  grantId: string,
  messageId: string,
  timeoutMs: number,
  signal?: AbortSignal,
) => Promise<Obj>;

/** The signal of the SDK call running in the current async context (see withCallSignal). */
const callSignal = new AsyncLocalStorage<AbortSignal>();
let fetchWrapped = false;

/**
 * The SDK (nylas 8.x) takes no AbortSignal: it aborts only on its own timer (whole seconds, and cleared
 * once the response headers arrive, so a body that never ends is never aborted). Its requests go through
 * the global fetch, so that is wrapped once to add the signal of the call in whose async context the
 * request is made. Requests made outside such a call are passed through untouched.
 */
function withCallSignal<T>(signal: AbortSignal | undefined, run: () => Promise<T>): Promise<T> {
  if (signal === undefined) return run();
  if (!fetchWrapped) {
    fetchWrapped = true;
    const original = globalThis.fetch;
    globalThis.fetch = (input, init) => {
      const own = callSignal.getStore();
      if (own === undefined) return original(input, init);
      const signals = init?.signal ? [init.signal, own] : [own];
      return original(input, { ...init, signal: AbortSignal.any(signals) });
    };
  }
  return callSignal.run(signal, run);
}

/** `Retry-After`: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

function snakeKey(k: string): string {
  return k.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/** The SDK camel-cases every key of a response (except top-level `metadata`); notifications and our
 * normalize stage use Nylas's wire names, so the keys are turned back. */
export function snakeKeys(v: unknown, top = true): unknown {
  if (Array.isArray(v)) return v.map((e) => snakeKeys(e, false));
  if (!isObj(v)) return v;
  const out: Obj = {};
  for (const [k, val] of Object.entries(v)) {
    out[top && k === 'metadata' ? k : snakeKey(k)] = top && k === 'metadata' ? val : snakeKeys(val, false);
  }
  return out;
}

/** The production fetcher: the official SDK against NYLAS_API_URI, errors mapped to ApiCallError. */
export function sdkMessageFetcher(options: {
  apiKey: string;
  apiUri: string;
  requestTimeoutMs: number;
  now?: () => number;
}): MessageFetcher {
  const now = options.now ?? Date.now;
  const nylas = new Nylas({
    apiKey: options.apiKey,
    apiUri: options.apiUri,
    // Seconds. Our own timer races every call with the remaining budget; this only makes sure the
    // SDK's socket does not outlive it by much.
    timeout: Math.max(1, Math.ceil(options.requestTimeoutMs / 1000)),
  });
  return async (grantId, messageId, _timeoutMs, signal) => {
    try {
      const res = await withCallSignal(signal, () => nylas.messages.find({ identifier: grantId, messageId }));
      return snakeKeys(res.data) as Obj;
    } catch (err) {
      if (err instanceof NylasApiError) {
        const retryAfter = (err.headers as Record<string, string> | undefined)?.['retry-after'];
        throw new ApiCallError(
          `Nylas API ${err.statusCode}: ${err.message}`,
          err.statusCode,
          parseRetryAfter(retryAfter, now()),
        );
      }
      if (err instanceof NylasSdkTimeoutError || signal?.aborted) {
        throw new ApiCallError('Nylas API call timed out', undefined, undefined);
      }
      // Connection refused/reset, or an error body the SDK could not parse (a proxy's HTML 502 page).
      throw new ApiCallError(`Nylas API call failed: ${(err as Error).message}`, undefined, undefined);
    }
  };
}

export type ExpandOutcome =
  /** `hold`: the body's bytes in the instance's expansion budget, released by whoever lets go of the
   * outcome (processors/deferral/expansion-cache.ts). */
  | { kind: 'expanded'; object: Obj; hold?: ExpansionHold }
  | { kind: 'gone' }
  | { kind: 'failed'; reason: DeadLetterReason; code: string; message: string };

/** Bounded labels for nylas_stream_processor_expansion_errors_total. */
export type ExpansionErrorReason =
  | 'rate_limited'
  | 'unavailable'
  | 'unauthorized'
  | 'not_found'
  | 'rejected'
  | 'deadline';

export interface ExpansionObserver {
  callFailed(reason: ExpansionErrorReason): void;
  finished(outcome: ExpandOutcome['kind'], seconds: number): void;
}

export interface ExpanderOptions {
  fetch: MessageFetcher;
  concurrency: number;
  deadlineMs: number;
  requestTimeoutMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  observer?: ExpansionObserver;
  now?: () => number;
  random?: () => number;
  /** The instance's API budget, shared with the backfill coordinator (api-budget.ts); its own when
   * omitted (`concurrency` slots). */
  budget?: ApiBudget;
  /** The instance's expansion memory budget (processors/expansion-budget.ts): an expansion starts only
   * when its reservation fits (or nothing else can free room). None: unbounded (unit tests of the policy). */
  memory?: ExpansionBudget;
}

/** The expander closed, or the partition an expansion was for went: nobody will take its outcome. */
export class AbortedError extends Error {
  constructor(message = 'expander closed') {
    super(message);
    this.name = 'AbortedError';
  }
}

/** What a failed Nylas API call's status means for the retry policy (the backfill's list calls too). */
export function classifyApiStatus(status: number | undefined): Exclude<ExpansionErrorReason, 'deadline'> {
  if (status === undefined) return 'unavailable';
  if (status === 401) return 'unauthorized';
  if (status === 404) return 'not_found';
  if (status === 429) return 'rate_limited';
  if (status === 408 || status === 425 || status >= 500) return 'unavailable';
  return 'rejected';
}

export class Expander {
  private readonly slots: Slots;
  private readonly cooldowns: GrantCooldowns;
  private readonly timers = new Set<{ timer: NodeJS.Timeout; reject: (e: Error) => void }>();
  /** Calls in flight, aborted by close(). */
  private readonly calls = new Set<AbortController>();
  /** Aborted by close() with an AbortedError: ends the waits for room in the memory budget too. */
  private readonly closing = new AbortController();
  private readonly now: () => number;
  private readonly random: () => number;

  private get closed(): boolean {
    return this.closing.signal.aborted;
  }

  constructor(private readonly options: ExpanderOptions) {
    this.now = options.now ?? Date.now;
    const budget = options.budget ?? apiBudget(options.concurrency, this.now);
    this.slots = budget.slots;
    this.cooldowns = budget.cooldowns;
    this.random = options.random ?? Math.random;
  }

  /** Cancels every wait; pending expand() calls reject (their records are not committed). */
  close(): void {
    this.closing.abort(new AbortedError());
    for (const c of this.calls) c.abort();
    this.cooldowns.clear();
    for (const t of this.timers) {
      clearTimeout(t.timer);
      t.reject(new AbortedError());
    }
    this.timers.clear();
  }

  private sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.reject(new AbortedError());
    return new Promise((resolve, reject) => {
      const entry = {
        timer: setTimeout(() => {
          this.timers.delete(entry);
          resolve();
        }, ms),
        reject,
      };
      this.timers.add(entry);
    });
  }

  /** Grants cooling down now (a 429 with Retry-After); for tests and diagnostics. */
  get coolingGrants(): number {
    return this.cooldowns.size;
  }

  private cooldownLeft(grantId: string): number {
    return this.cooldowns.left(grantId);
  }

  /** Extends the grant's cool-down to `until`; the entry removes itself when it expires. */
  private coolDown(grantId: string, until: number): void {
    this.cooldowns.coolDown(grantId, until);
  }

  private async call(grantId: string, messageId: string, timeoutMs: number): Promise<Obj> {
    await this.slots.acquire();
    const controller = new AbortController();
    this.calls.add(controller);
    const timedOut = new ApiCallError(`no answer within ${timeoutMs} ms`, undefined, undefined);
    let timer: NodeJS.Timeout | undefined;
    const call = this.options.fetch(grantId, messageId, timeoutMs, controller.signal);
    try {
      return await Promise.race([
        call,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            controller.abort(timedOut);
            reject(timedOut);
          }, timeoutMs);
        }),
      ]);
    } finally {
      if (timer) clearTimeout(timer);
      // The slot is free once the call has ended, not when we stopped waiting for it: a fetcher ends
      // an aborted call at once, so live calls never exceed the concurrency.
      call.then(
        () => this.endCall(controller),
        () => this.endCall(controller),
      );
    }
  }

  private endCall(controller: AbortController): void {
    this.calls.delete(controller);
    this.slots.release();
  }

  /**
   * Fetches the full message of a truncated notification, following the policy in the module comment.
   * With a memory budget, the expansion first waits for room (processors/expansion-budget.ts) and keeps
   * its reservation through retries; an expanded outcome carries the body's hold, any other gives it back.
   * `dropped`: aborts when the partition the expansion is for went (processors/deferral/expansion-cache.ts);
   * a wait for room then ends at once, and an admitted expansion that has not started does not start.
   */
  async expand(n: Notification, dropped?: AbortSignal): Promise<ExpandOutcome> {
    const memory = this.options.memory;
    if (memory === undefined) return this.fetchWithPolicy(n);
    const cancel = dropped === undefined ? [this.closing.signal] : [this.closing.signal, dropped];
    // The lane as processors/deferral/ names it (the object), within its partition.
    const hold = await memory.admit(`${n.record.partition}/${objectKeyString(n.object)}`, cancel);
    // Admitted in the moment the expander closed or the partition went: the reason is the signal's.
    const gone = cancel.find((s) => s.aborted);
    if (gone !== undefined) {
      hold.release();
      throw gone.reason;
    }
    let outcome: ExpandOutcome;
    try {
      outcome = await this.fetchWithPolicy(n);
      // Closed while the call was answered: nobody will take the body, so nobody would release it.
      if (this.closed) throw new AbortedError();
    } catch (err) {
      hold.release();
      throw err;
    }
    if (outcome.kind !== 'expanded') {
      hold.release();
      return outcome;
    }
    hold.settle(approximateBytes(outcome.object));
    return { ...outcome, hold };
  }

  private async fetchWithPolicy(n: Notification): Promise<ExpandOutcome> {
    const started = this.now();
    const deadline = started + this.options.deadlineMs;
    const grantId = n.grantId;
    const messageId = n.object.objectId;
    const finish = (o: ExpandOutcome): ExpandOutcome => {
      this.options.observer?.finished(o.kind, (this.now() - started) / 1000);
      return o;
    };
    const giveUp = (last: string): ExpandOutcome => {
      this.options.observer?.callFailed('deadline');
      return finish({
        kind: 'failed',
        reason: 'NYLAS_API_DEADLINE',
        code: ErrorCodes.NYLAS_API_DEADLINE,
        message: `gave up after ${this.options.deadlineMs} ms: ${last}`,
      });
    };
    if (messageId === '') {
      return finish({
        kind: 'failed',
        reason: 'MALFORMED_ENVELOPE',
        code: ErrorCodes.MALFORMED_ENVELOPE,
        message: 'truncated notification without a message id',
      });
    }
    let last = 'no attempt';
    for (let attempt = 0; ; attempt++) {
      const cooldown = this.cooldownLeft(grantId);
      if (cooldown > 0) {
        if (this.now() + cooldown >= deadline) return giveUp(`grant rate-limited: ${last}`);
        await this.sleep(cooldown);
      }
      const remaining = deadline - this.now();
      if (remaining <= 0) return giveUp(last);
      try {
        const fetched = await this.call(
          grantId,
          messageId,
          Math.min(this.options.requestTimeoutMs, remaining),
        );
        return finish({ kind: 'expanded', object: fetched });
      } catch (err) {
        if (err instanceof AbortedError) throw err;
        const e =
          err instanceof ApiCallError ? err : new ApiCallError((err as Error).message, undefined, undefined);
        const reason = classifyApiStatus(e.status);
        this.options.observer?.callFailed(reason);
        last = e.message;
        if (reason === 'not_found') return finish({ kind: 'gone' });
        if (reason === 'unauthorized') {
          return finish({
            kind: 'failed',
            reason: 'NYLAS_API_UNAUTHORIZED',
            code: ErrorCodes.NYLAS_API_UNAUTHORIZED,
            message: `grant ${grantId} is not authorized (401): ${e.message}`,
          });
        }
        if (reason === 'rejected') {
          return finish({
            kind: 'failed',
            reason: 'NYLAS_API_REJECTED',
            code: ErrorCodes.NYLAS_API_REJECTED,
            message: e.message,
          });
        }
        const cap = Math.min(
          this.options.backoffMaxMs,
          this.options.backoffBaseMs * 2 ** Math.min(attempt, 30),
        );
        const jittered = Math.floor(this.random() * cap);
        const wait = Math.max(jittered, e.retryAfterMs ?? 0);
        if (reason === 'rate_limited' && e.retryAfterMs !== undefined) {
          this.coolDown(grantId, this.now() + wait);
        }
        if (this.now() + wait >= deadline) return giveUp(last);
        await this.sleep(wait);
      }
    }
  }
}

/** Applies an outcome: the expanded or gone notification, or the dead letter. */
export function applyExpansion(n: Notification, outcome: ExpandOutcome): Notification | DeadLetter {
  switch (outcome.kind) {
    case 'expanded': {
      const before = n.envelope.data.object ?? {};
      // The fetched message is the current full state; ids from the notification fill any gap.
      const object: Obj = { ...before, ...outcome.object };
      if (object.id === undefined) object.id = n.object.objectId;
      if (object.grant_id === undefined) object.grant_id = n.grantId;
      return { ...n, envelope: { ...n.envelope, data: { ...n.envelope.data, object } }, expanded: true };
    }
    case 'gone':
      return { ...n, goneOnExpand: true };
    case 'failed':
      return {
        record: n.record,
        reason: outcome.reason,
        code: outcome.code,
        message: outcome.message,
        stage: 'expand',
        redrivable: true,
      };
  }
}

export function isDeadLetter(v: Notification | DeadLetter): v is DeadLetter {
  return 'reason' in v && 'stage' in v;
}
