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
import { type GrantKnownObjects, isReconciled, type KnownObjects, knownObjectKey } from './known-objects';
import { applyFact, enqueue, finish, type LifecyclePolicy, type Transition } from './lifecycle';
import { advance, type BuildContext, deletionOf, notificationOf } from './listing';
import type { BackfillMetrics } from './metrics';
import { AbortedError, type PageResult, type PageRunner } from './page-runner';
import { unlisted } from './reconcile';
import {
  type BackfillFamily,
  type GrantBackfillState,
  grantKey,
  type ListedPage,
  listedKey,
  type ParsedKey,
  parseFact,
  parseListedPage,
  parseRequest,
  parseValue,
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
  /** Reads the known-objects index of this partition for these grants (known-objects.ts). */
  readKnown: (grantIds: ReadonlySet<string>) => Promise<KnownObjects>;
  /** TOPIC_KNOWN_OBJECTS: a deleted grant's records are tombstoned there. */
  knownObjectsTopic: string;
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
  /** Per grant, the pages its running backfill's whole listings returned so far, by record key: what
   * reconciliation compares the known objects with. Tombstoned with the commit that ends the backfill.
   * Memory: the ids of the grants between a whole listing's first page and their backfill's end. */
  private readonly listed = new Map<string, { requestId: string; pages: Map<string, ListedPage> }>();
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

  /** Listed pages the restore read, by record key (the last record of each key; tombstones removed). */
  private readonly restoredPages = new Map<
    string,
    { grantId: string; requestId: string; page: ListedPage }
  >();

  /** A listed page read by the restore (null: tombstoned). */
  restoreListed(grantId: string, requestId: string, rawKey: string, value: Buffer | null): void {
    const page = parseListedPage(parseValue(value));
    if (page === undefined) this.restoredPages.delete(rawKey);
    else this.restoredPages.set(rawKey, { grantId, requestId, page });
  }

  /** Applies the inputs the restore found unapplied, then runs the backfills. */
  async start(pending: readonly InputRecord[]): Promise<void> {
    // The running backfills' pages first, so an input that ends one tombstones them with its commit;
    // pages of a backfill that ended before its tombstones were committed are tombstoned now.
    const leftovers: Message[] = [];
    for (const [key, r] of this.restoredPages) {
      if (this.states.get(r.grantId)?.running?.request.id === r.requestId)
        this.keepListed(r.grantId, r.requestId, key, r.page);
      else leftovers.push({ key, value: null, partition: this.o.partition });
    }
    this.restoredPages.clear();
    if (leftovers.length > 0)
      await this.serialized(() => this.commit([{ topic: this.o.backfillTopic, messages: leftovers }]));
    for (const input of pending) if (isInput(input) && input.value !== null) await this.apply(input);
    this.loopDone = this.loop();
  }

  private keepListed(grantId: string, requestId: string, key: string, page: ListedPage): void {
    let entry = this.listed.get(grantId);
    if (entry === undefined || entry.requestId !== requestId) {
      entry = { requestId, pages: new Map() };
      this.listed.set(grantId, entry);
    }
    entry.pages.set(key, page);
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
    if (isInput(record) && record.value !== null) await this.apply(record);
    this.resumeAt = offset + 1n;
  }

  private apply(record: InputRecord): Promise<void> {
    return this.serialized(async () => {
      const { key } = record;
      const grantId = key.grantId;
      const current = this.states.get(grantId);
      const now = this.now();
      const value = parseValue(record.value);
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
      if (t.state !== null || current !== undefined) messages.push(...this.stateMessages(grantId, t.state));
      // A deleted grant's known objects are forgotten with it, or the compacted index would keep them for
      // ever (its size must follow the accounts that exist).
      const forgotten =
        typeof parsed !== 'string' && parsed.kind === 'fact' && parsed.action === 'deleted'
          ? await this.knownObjectTombstones(grantId)
          : [];
      await this.commit([
        { topic: this.o.backfillTopic, messages },
        { topic: this.o.knownObjectsTopic, messages: forgotten },
      ]);
      this.remember(grantId, t.state);
      this.count(t, current);
      this.wakeUp?.();
    });
  }

  private async knownObjectTombstones(grantId: string): Promise<Message[]> {
    const known = (await this.o.readKnown(new Set([grantId]))).get(grantId) ?? new Map();
    const out: Message[] = [];
    for (const [family, ids] of known)
      for (const id of ids.keys())
        out.push({ key: knownObjectKey(grantId, family, id), value: null, partition: this.o.partition });
    return out;
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

  /** The grant's new state, and tombstones for the listed pages of a backfill it no longer runs. */
  private stateMessages(grantId: string, state: GrantBackfillState | null): Message[] {
    const p = this.o.partition;
    const out: Message[] = [
      { key: grantKey(grantId), value: state === null ? null : JSON.stringify(state), partition: p },
    ];
    const entry = this.listed.get(grantId);
    if (entry !== undefined && state?.running?.request.id !== entry.requestId)
      for (const key of entry.pages.keys()) out.push({ key, value: null, partition: p });
    return out;
  }

  /** After a commit: memory follows what it wrote (stateMessages' tombstones included). */
  private remember(grantId: string, state: GrantBackfillState | null): void {
    if (state === null) this.states.delete(grantId);
    else this.states.set(grantId, state);
    const entry = this.listed.get(grantId);
    if (entry !== undefined && state?.running?.request.id !== entry.requestId) this.listed.delete(grantId);
  }

  /** What the notifications of a page (or of a reconciliation's deletes) are built with. */
  private context(
    state: GrantBackfillState,
    running: RunningBackfill,
    nylasTime: number,
    now: number,
  ): BuildContext {
    return {
      request: running.request,
      applicationId: running.request.applicationId ?? state.applicationId ?? UNKNOWN_APPLICATION,
      nylasTime,
      now,
    };
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
    // A completed backfill that listed a family whole is reconciled: the index is read before the
    // commit (outside the partition's serialized section: it takes seconds, inputs need not wait).
    const known =
      result.kind === 'done' && Object.keys(running.listedFrom ?? {}).length > 0
        ? (await this.o.readKnown(new Set([grantId]))).get(grantId)
        : undefined;
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
      await this.settle(state, state.running, result, known);
    });
  }

  private async settle(
    state: GrantBackfillState,
    running: RunningBackfill,
    result: PageResult,
    known: GrantKnownObjects | undefined,
  ): Promise<void> {
    const now = this.now();
    const m = this.o.metrics;
    const reason = running.request.reason;
    switch (result.kind) {
      case 'done': {
        const gone = unlisted(running, this.listed.get(state.grantId)?.pages.values() ?? [], known);
        const deletes = gone.map((g) =>
          deletionOf(g.family, g.objectId, this.context(state, running, g.at, now)),
        );
        const next = finish(state, 'completed', now);
        if (next.last !== undefined && deletes.length > 0)
          next.last = { ...next.last, deleted: deletes.length };
        await this.commit([
          { topic: this.o.rawTopic, messages: deletes },
          { topic: this.o.backfillTopic, messages: this.stateMessages(state.grantId, next) },
        ]);
        this.remember(state.grantId, next);
        m.finished.inc({ reason, outcome: 'completed' });
        for (const g of gone) m.reconciledDeletes.inc({ family: g.family });
        this.o.log.info(
          {
            grantId: state.grantId,
            request: running.request.id,
            objects: running.objects,
            pages: running.pages,
            calls: running.calls,
            deleted: gone.length,
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
          { topic: this.o.backfillTopic, messages: this.stateMessages(state.grantId, next) },
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
          { topic: this.o.backfillTopic, messages: this.stateMessages(state.grantId, next) },
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
        const own: Message[] = [];
        let listedPage: { key: string; page: ListedPage } | undefined;
        let listedFrom = running.listedFrom;
        if (family !== undefined && result.kind === 'page') {
          const ctx = this.context(state, running, result.page.nylasTime, now);
          const ids: string[] = [];
          for (const item of items) {
            const n = notificationOf(family, item, ctx);
            if (n === undefined) continue;
            raw.push(n);
            ids.push(String(item.id));
          }
          if (isReconciled(family)) {
            // A whole listing: its ids are kept until the backfill completes and reconciles them.
            const key = listedKey(state.grantId, running.request.id, family, running.pages);
            listedPage = { key, page: { kind: 'listed', family, ids } };
            own.push({ key, value: JSON.stringify(listedPage.page), partition: this.o.partition });
            if (listedFrom?.[family] === undefined)
              listedFrom = { ...listedFrom, [family]: result.page.nylasTime };
          }
        }
        const nextRunning: RunningBackfill = {
          ...running,
          position: advance(running, result.call, items, cursor),
          objects: running.objects + raw.length,
          pages: running.pages + (result.kind === 'page' ? 1 : 0),
          calls: running.calls + result.calls,
          ...(listedFrom === undefined ? {} : { listedFrom }),
        };
        const next: GrantBackfillState = { ...state, running: nextRunning };
        await this.commit([
          { topic: this.o.rawTopic, messages: raw },
          { topic: this.o.backfillTopic, messages: [...own, ...this.stateMessages(state.grantId, next)] },
        ]);
        this.remember(state.grantId, next);
        if (listedPage !== undefined)
          this.keepListed(state.grantId, running.request.id, listedPage.key, listedPage.page);
        if (result.kind === 'page') m.pages.inc({ listing: result.call.listing });
        if (family !== undefined && raw.length > 0) m.objects.inc({ family }, raw.length);
        return;
      }
    }
  }
}

/** Inputs are facts and requests; grant states and listed pages are the coordinator's own records. */
function isInput(record: InputRecord): boolean {
  return record.key.kind === 'fact' || record.key.kind === 'request';
}

/** A manual request for a grant whose lifecycle the coordinator never saw carries no application id;
 * the envelope needs one (decode refuses an empty `data.application_id`). */
export const UNKNOWN_APPLICATION = 'unknown-application';
