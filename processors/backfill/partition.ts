/**
 * One partition of the backfill topic, owned by this instance (coordinator.ts assigns them): its grants'
 * states in memory, the inputs applied to them, and the backfills run page by page.
 *
 * Exactly once, by transactions on a producer fenced for this partition (transactional id
 * `<group>-backfill-<topic>-<p>`, InitProducerId on takeover, as the processor's partitions do,
 * docs/decisions/0001-transactional-id-per-partition.md):
 * - an input (a lifecycle fact, a request) commits with its grant's new state and the input's tombstone;
 * - a page commits with its notifications on the raw topic and the grant's state carrying the position
 *   of the next page. A crash between a page's fetch and its commit fetches the page again; its
 *   notifications get the same ids, and nothing was committed the first time anyway.
 * Memory moves only after a commit, so a failed transaction leaves memory as the log is.
 *
 * Restore on takeover (restore.ts builds it): the partition read from its start to its end, the last
 * state of each grant kept, and each input without a later tombstone applied again, in log order.
 * Memory holds one state per grant of the partition (a few hundred bytes each): bounded by the grants,
 * not by traffic or time.
 */
import type { Message, Producer } from 'kafkajs';
import { cappedBackoff } from '../../lib/backoff';
import { isFencingError } from '../../lib/kafkajs/errors';
import type { Logger } from '../../lib/logger';
import { applyFact, enqueue, finish, type LifecyclePolicy, type Transition } from './lifecycle';
import { advance, notificationOf } from './listing';
import type { BackfillMetrics } from './metrics';
import { AbortedError, type PageResult, type PageRunner } from './page-runner';
import {
  type BackfillFamily,
  type GrantBackfillState,
  grantKey,
  type ParsedKey,
  parseFact,
  parseRequest,
  type RunningBackfill,
} from './records';

export interface BackfillPartitionOptions {
  partition: number;
  producer: Producer;
  backfillTopic: string;
  rawTopic: string;
  policy: LifecyclePolicy;
  runner: PageRunner;
  metrics: BackfillMetrics;
  log: Logger;
  /** Backoff of a failed transaction (PROCESSOR_RETRY_BACKOFF_*). */
  retryBaseMs: number;
  retryMaxMs: number;
  now?: () => number;
  /** Called when the partition can go on no longer (fenced: another instance owns it now). */
  onLost?: (err: unknown) => void;
}

/** One record of the backfill topic as read. */
export interface InputRecord {
  offset: string;
  key: ParsedKey;
  rawKey: string;
  value: Buffer | null;
}

export class BackfillPartition {
  readonly states = new Map<string, GrantBackfillState>();
  /** Offsets below this are already reflected in memory (restored or applied). */
  resumeAt = 0n;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly abort = new AbortController();
  private wakeUp: (() => void) | undefined;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly now: () => number;
  /** Round-robin over grants, so one large backfill does not hold the partition's others back. */
  private turn = 0;

  constructor(private readonly o: BackfillPartitionOptions) {
    this.now = o.now ?? Date.now;
  }

  get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  /** Applies the inputs the restore found unapplied, then runs the backfills. */
  async start(pending: readonly InputRecord[]): Promise<void> {
    for (const input of pending)
      if (input.key.kind !== 'grant' && input.value !== null) await this.apply(input);
    this.loopDone = this.loop();
  }

  /** Ends the page loop and lets go of the partition's producer (its connections with it). */
  async stop(): Promise<void> {
    this.abort.abort();
    this.wakeUp?.();
    await this.loopDone.catch(() => undefined);
    await this.chain.catch(() => undefined);
    await this.o.producer.disconnect().catch(() => undefined);
  }

  /** Running backfills, for the gauges. */
  running(): Array<{ startedAt: number; blocked: boolean }> {
    const out: Array<{ startedAt: number; blocked: boolean }> = [];
    for (const s of this.states.values())
      if (s.running) out.push({ startedAt: s.running.startedAt, blocked: s.running.blocked !== undefined });
    return out;
  }

  /** One record consumed after the restore. Own writes (states, tombstones) are already in memory. */
  async input(record: InputRecord): Promise<void> {
    const offset = BigInt(record.offset);
    if (offset < this.resumeAt) return;
    if (record.key.kind !== 'grant' && record.value !== null) await this.apply(record);
    this.resumeAt = offset + 1n;
  }

  private apply(record: InputRecord): Promise<void> {
    return this.serialized(async () => {
      const { key } = record;
      const grantId = key.grantId;
      const current = this.states.get(grantId);
      const now = this.now();
      let value: unknown;
      try {
        value = JSON.parse(String(record.value));
      } catch {
        value = undefined;
      }
      const parsed = key.kind === 'fact' ? parseFact(value) : parseRequest(value);
      let t: Transition;
      if (typeof parsed === 'string') {
        // A record nobody can use: logged where an operator looks, counted, and tombstoned so it is
        // not met again on every restore. A request typed by hand says so in the grant's state too.
        this.o.metrics.inputsRejected.inc({ kind: key.kind });
        this.o.log.error(
          { key: record.rawKey, offset: record.offset, partition: this.o.partition, why: parsed },
          'backfill input rejected',
        );
        t = { state: current ?? null, events: [] };
      } else if (parsed.grantId !== grantId) {
        this.o.metrics.inputsRejected.inc({ kind: key.kind });
        this.o.log.error(
          { key: record.rawKey, offset: record.offset, why: `value is for grant ${parsed.grantId}` },
          'backfill input rejected',
        );
        t = { state: current ?? null, events: [] };
      } else if (parsed.kind === 'fact') {
        t = applyFact(current, parsed, this.o.policy, now);
      } else {
        t = enqueue(current ?? { kind: 'grant', grantId, queued: [] }, parsed, now);
      }
      const messages: Message[] = [{ key: record.rawKey, value: null, partition: this.o.partition }];
      if (t.state !== null || current !== undefined) messages.push(this.stateMessage(grantId, t.state));
      await this.commit([{ topic: this.o.backfillTopic, messages }]);
      this.remember(grantId, t.state);
      this.count(t, current);
      this.wakeUp?.();
    });
  }

  private count(t: Transition, before: GrantBackfillState | undefined): void {
    const m = this.o.metrics;
    for (const e of t.events) {
      switch (e.kind) {
        case 'requested':
          m.requests.inc({ reason: e.request.reason });
          this.o.log.info(
            {
              grantId: e.request.grantId,
              request: e.request.id,
              reason: e.request.reason,
              since: e.request.since,
              until: e.request.until,
              families: e.request.families,
            },
            'backfill requested',
          );
          break;
        case 'within_horizon':
          m.notRequested.inc({ why: 'within_horizon' });
          break;
        case 'unknown_gap':
          m.notRequested.inc({ why: 'unknown_gap' });
          this.o.log.warn(
            { grantId: before?.grantId },
            'grant re-authenticated without a known expiry: no backfill requested (run `nylas-stream backfill` if it was out of service)',
          );
          break;
        case 'cancelled':
          for (const id of e.ids) {
            const reason =
              id === before?.running?.request.id
                ? before.running.request.reason
                : before?.queued.find((q) => q.id === id)?.reason;
            m.finished.inc({ reason: reason ?? 'manual', outcome: 'cancelled' });
          }
          break;
        default:
          break;
      }
    }
  }

  private stateMessage(grantId: string, state: GrantBackfillState | null): Message {
    return {
      key: grantKey(grantId),
      value: state === null ? null : JSON.stringify(state),
      partition: this.o.partition,
    };
  }

  private remember(grantId: string, state: GrantBackfillState | null): void {
    if (state === null) this.states.delete(grantId);
    else this.states.set(grantId, state);
  }

  /** One transaction; fencing means the partition is someone else's now. */
  private async commit(batches: Array<{ topic: string; messages: Message[] }>): Promise<void> {
    const txn = await this.o.producer.transaction();
    try {
      for (const b of batches) if (b.messages.length > 0) await txn.send(b);
      await txn.commit();
    } catch (err) {
      await txn.abort().catch(() => undefined);
      throw err;
    }
  }

  /** Inputs and pages commit one at a time, each against the memory the previous one left. */
  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work, work);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private runnable(): string | undefined {
    const ready = [...this.states.values()].filter(
      (s) => s.running !== undefined && s.running.blocked === undefined,
    );
    if (ready.length === 0) return undefined;
    this.turn = (this.turn + 1) % ready.length;
    return ready[this.turn]?.grantId;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      const grantId = this.runnable();
      if (grantId === undefined) {
        await new Promise<void>((resolve) => {
          this.wakeUp = resolve;
        });
        this.wakeUp = undefined;
        continue;
      }
      try {
        await this.step(grantId);
        failures = 0;
      } catch (err) {
        if (err instanceof AbortedError || this.stopped) return;
        if (isFencingError(err)) {
          this.o.log.warn(
            { partition: this.o.partition, err },
            'backfill partition fenced: another instance owns it',
          );
          this.abort.abort();
          this.o.onLost?.(err);
          return;
        }
        // A broker error: nothing moved (memory follows commits); the page is fetched again.
        const wait = cappedBackoff(failures++, this.o.retryBaseMs, this.o.retryMaxMs);
        this.o.log.warn(
          { partition: this.o.partition, grantId, err, retryInMs: wait },
          'backfill step failed',
        );
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  /** One page of one grant's running backfill: fetched, then committed with the position after it. */
  private async step(grantId: string): Promise<void> {
    const running = this.states.get(grantId)?.running;
    if (running === undefined) return;
    const result = await this.o.runner.next(running, this.abort.signal);
    await this.serialized(async () => {
      const state = this.states.get(grantId);
      // While the page was fetched, an input may have changed the grant (deleted, a new request
      // queued, a re-authentication): the page counts only if the backfill is still where it was.
      if (
        state?.running === undefined ||
        state.running.request.id !== running.request.id ||
        JSON.stringify(state.running.position) !== JSON.stringify(running.position)
      )
        return;
      await this.settle(state, state.running, result);
    });
  }

  private async settle(
    state: GrantBackfillState,
    running: RunningBackfill,
    result: PageResult,
  ): Promise<void> {
    const now = this.now();
    const m = this.o.metrics;
    const reason = running.request.reason;
    switch (result.kind) {
      case 'done': {
        const next = finish(state, 'completed', now);
        await this.commit([
          { topic: this.o.backfillTopic, messages: [this.stateMessage(state.grantId, next)] },
        ]);
        this.remember(state.grantId, next);
        m.finished.inc({ reason, outcome: 'completed' });
        this.o.log.info(
          {
            grantId: state.grantId,
            request: running.request.id,
            objects: running.objects,
            pages: running.pages,
            calls: running.calls,
            seconds: (now - running.startedAt) / 1000,
          },
          'backfill completed',
        );
        return;
      }
      case 'rejected': {
        const next = finish(
          { ...state, running: { ...running, calls: running.calls + result.calls } },
          'failed',
          now,
          result.detail,
        );
        await this.commit([
          { topic: this.o.backfillTopic, messages: [this.stateMessage(state.grantId, next)] },
        ]);
        this.remember(state.grantId, next);
        m.finished.inc({ reason, outcome: 'failed' });
        this.o.log.error(
          { grantId: state.grantId, request: running.request.id, detail: result.detail },
          'backfill failed: the Nylas API refused a list call (request it again with `nylas-stream backfill` once fixed)',
        );
        return;
      }
      case 'unauthorized': {
        const next: GrantBackfillState = {
          ...state,
          running: {
            ...running,
            calls: running.calls + result.calls,
            blocked: { at: now, detail: result.detail },
          },
        };
        await this.commit([
          { topic: this.o.backfillTopic, messages: [this.stateMessage(state.grantId, next)] },
        ]);
        this.remember(state.grantId, next);
        this.o.log.warn(
          { grantId: state.grantId, request: running.request.id, detail: result.detail },
          "backfill blocked: the grant is not authorized (401); it resumes at the grant's re-authentication",
        );
        return;
      }
      case 'skipped':
      case 'page': {
        const items = result.kind === 'page' ? result.page.items : [];
        const cursor = result.kind === 'page' ? result.page.nextCursor : null;
        const family: BackfillFamily | undefined = result.kind === 'page' ? result.call.emits : undefined;
        const raw: Message[] = [];
        if (family !== undefined && result.kind === 'page') {
          const ctx = {
            request: running.request,
            applicationId: running.request.applicationId ?? state.applicationId ?? UNKNOWN_APPLICATION,
            nylasTime: result.page.nylasTime,
            now,
          };
          for (const item of items) {
            const n = notificationOf(family, item, ctx);
            if (n !== undefined) raw.push(n);
          }
        }
        const nextRunning: RunningBackfill = {
          ...running,
          position: advance(running, result.call, items, cursor),
          objects: running.objects + raw.length,
          pages: running.pages + (result.kind === 'page' ? 1 : 0),
          calls: running.calls + result.calls,
        };
        const next: GrantBackfillState = { ...state, running: nextRunning };
        await this.commit([
          { topic: this.o.rawTopic, messages: raw },
          { topic: this.o.backfillTopic, messages: [this.stateMessage(state.grantId, next)] },
        ]);
        this.remember(state.grantId, next);
        if (result.kind === 'page') m.pages.inc({ listing: result.call.listing });
        if (family !== undefined && raw.length > 0) m.objects.inc({ family }, raw.length);
        return;
      }
    }
  }
}

/** A manual request for a grant whose lifecycle the coordinator never saw carries no application id;
 * the envelope needs one (decode refuses an empty `data.application_id`). */
export const UNKNOWN_APPLICATION = 'unknown-application';
