/**
 * The pipeline: runs the stages over one round of records of one input partition against its store and
 * says what the round's transaction must contain (ARCHITECTURE.md, "Processors"):
 *
 *   decode → window → dedupe → order → expand → normalize → encode → (order again over what survived)
 *
 * Order runs before expand so stale truncated messages are never fetched; it runs again at the end over
 * the notifications that are still publishable, because expansion can turn an update into a delete (404)
 * and normalize/encode can dead-letter one, and the rules (delete is final, ties) must hold for what is
 * actually emitted. Nothing here writes the store or Kafka: the caller commits the outputs and state
 * changes in one transaction and applies the changes to the store only after the commit.
 *
 * Slow API, per object: expansions of a round run concurrently; when some are still pending after
 * `deferAfterMs`, every notification of those objects (grant, type, id: the unit order is kept for) is
 * set aside (`deferred`, with its lane) and the rest of the round proceeds, the same grant's other
 * objects included. The caller commits what is done, keeps the committed offset at the first set-aside
 * record, passes the lanes still waiting to later rounds (their new notifications are set aside behind
 * them, unprocessed) and resubmits each lane once its expansions settle. Records that do not decode have
 * no object and are never set aside.
 */
import type { Message } from 'kafkajs';
import type { TopicsConfig } from '../lib/config';
import { ErrorCodes, errorCodeOf, isRetriable, NylasStreamError } from '../lib/errors';
import type { NotificationOutcome } from './metrics';
import { decodeBatch } from './stages/decode';
import { dedupe, dedupeEntries } from './stages/dedupe';
import { applyExpansion, type ExpandOutcome, isDeadLetter, needsExpansion } from './stages/expand';
import { withoutBody } from './stages/normalize';
import { objectKeyString, order } from './stages/order';
import { recordBatchBytes } from './stages/publish';
import { defaultAcceptWindowMs, refuseBeyondWindow } from './stages/window';
import type { PartitionStore, StateChange } from './state/store';
import type { DeadLetter, DomainEvent, Notification, RawRecord, TriggerFamily } from './types';

export interface PipelineDeps {
  topics: TopicsConfig;
  dedupeWindowMs: number;
  /** ACCEPT_WINDOW (stages/window.ts); its config default when omitted. */
  acceptWindowMs?: number;
  deferAfterMs: number;
  normalize: (n: Notification, topics: TopicsConfig) => DomainEvent;
  encoder: { message(event: DomainEvent): Message };
  expand: (n: Notification) => Promise<ExpandOutcome>;
}

/** Expansions in flight or settled, by source offset; kept by the caller across rounds. */
export class ExpansionCache {
  private readonly entries = new Map<string, { promise: Promise<ExpandOutcome>; outcome?: ExpandOutcome }>();
  private readonly listeners = new Set<() => void>();

  start(n: Notification, expand: (n: Notification) => Promise<ExpandOutcome>): void {
    const offset = n.record.offset;
    if (this.entries.has(offset)) return;
    const entry: { promise: Promise<ExpandOutcome>; outcome?: ExpandOutcome } = {
      promise: expand(n).then((outcome) => {
        entry.outcome = outcome;
        for (const l of this.listeners) l();
        return outcome;
      }),
    };
    // A rejection means the expander was closed (shutdown/teardown): the record stays unsettled and is
    // never committed; swallow it here so it is not reported as unhandled.
    entry.promise.catch(() => undefined);
    this.entries.set(offset, entry);
  }

  outcome(offset: string): ExpandOutcome | undefined {
    return this.entries.get(offset)?.outcome;
  }

  settled(offset: string): boolean {
    return this.entries.get(offset)?.outcome !== undefined;
  }

  promise(offset: string): Promise<ExpandOutcome> | undefined {
    return this.entries.get(offset)?.promise;
  }

  delete(offset: string): void {
    this.entries.delete(offset);
  }

  /** Called whenever an expansion settles (the partition worker wakes up to resubmit its grant). */
  onSettled(listener: () => void): void {
    this.listeners.add(listener);
  }

  get size(): number {
    return this.entries.size;
  }
}

export interface DomainOutput {
  topic: string;
  message: Message;
  /** When the ingress received the notification (for the end-to-end latency after commit). Only this,
   * not the notification: a round's outputs live through its transaction's round trips, and the decoded
   * notification (its whole parsed envelope) need not. */
  receivedAt: number;
  /** Set when the event went out without its body to fit the topic (its body_omitted_bytes says how big). */
  bodyOmitted?: true;
}

export interface RoundResult {
  /** Domain events to produce, in order. */
  domain: DomainOutput[];
  deadLetters: DeadLetter[];
  /** Store changes to write to the changelog and apply after commit. */
  stateChanges: StateChange[];
  /** Records set aside because their object waits for the Nylas API (offset order), with their lane. */
  deferred: DeferredRecord[];
  /** Records fully handled in this round (for the expansion cache cleanup). */
  handledOffsets: string[];
  /** Counts for nylas_stream_processor_notifications_total, recorded after commit. */
  outcomes: Array<{ family: TriggerFamily | 'unknown'; outcome: NotificationOutcome }>;
}

/** A record set aside, and the lane (object) it waits in. */
export interface DeferredRecord {
  lane: string;
  record: RawRecord;
}

/** The lane of a notification: its object, the unit whose order must be kept. */
export function laneOf(n: Notification): string {
  return objectKeyString(n.object);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function byOffset(a: RawRecord, b: RawRecord): number {
  const x = BigInt(a.offset);
  const y = BigInt(b.offset);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** What a round remembers: the ids it handled and each changed object's new last version. */
export function stateChangesOf(
  handled: readonly Notification[],
  versions: ReturnType<typeof order>['versions'],
  now: number,
  windowMs: number,
): StateChange[] {
  const expiresAt = now + windowMs;
  return [
    ...dedupeEntries(handled, now, windowMs).map(
      (e): StateChange => ({ kind: 'dedupe', id: e.id, expiresAt: e.expiresAt }),
    ),
    ...[...versions.values()].map(
      (v): StateChange => ({ kind: 'version', key: v.key, entry: v.entry, expiresAt }),
    ),
  ];
}

export class Pipeline {
  constructor(private readonly deps: PipelineDeps) {}

  /**
   * One round. `records` are in offset order. Throws only for faults that are not the records' fault
   * (the caller retries the round); everything a record can be blamed for becomes a dead letter.
   */
  async run(
    records: readonly RawRecord[],
    store: PartitionStore,
    now: number,
    expansions: ExpansionCache,
    waitingLanes: ReadonlySet<string> = new Set(),
  ): Promise<RoundResult> {
    const { deps } = this;
    const decoded = refuseBeyondWindow(decodeBatch(records), now, {
      dedupeWindowMs: deps.dedupeWindowMs,
      acceptWindowMs: deps.acceptWindowMs ?? defaultAcceptWindowMs(deps.dedupeWindowMs),
    });
    // Notifications of an object still waiting behind an earlier expansion join the back of its lane
    // untouched (not deduped, not ordered): its order is decided when the lane is resubmitted. Lanes are
    // only computed when some lane waits (a slow API), not for every record of every round.
    const ready =
      waitingLanes.size === 0
        ? decoded.notifications
        : decoded.notifications.filter((n) => !waitingLanes.has(laneOf(n)));
    const { unique, duplicates } = dedupe(ready, (id) => store.seen(id, now));
    const lookup = (key: string) => store.version(key, now);
    const pre = order(unique, lookup);

    // Expand what would be emitted; wait a bounded time, then set aside objects still waiting.
    const toExpand = pre.emit.filter(needsExpansion);
    for (const n of toExpand) expansions.start(n, deps.expand);
    const pending = toExpand.filter((n) => !expansions.settled(n.record.offset));
    if (pending.length > 0 && deps.deferAfterMs > 0) {
      await Promise.race([
        Promise.allSettled(pending.map((n) => expansions.promise(n.record.offset))),
        sleep(deps.deferAfterMs),
      ]);
    }
    const deferredLanes = new Set(waitingLanes);
    for (const n of toExpand) if (!expansions.settled(n.record.offset)) deferredLanes.add(laneOf(n));
    // Offset → lane of every notification set aside; records that did not decode have no lane.
    const deferredOffsets = new Map<string, string>();
    if (deferredLanes.size > 0) {
      for (const n of decoded.notifications) {
        const lane = laneOf(n);
        if (deferredLanes.has(lane)) deferredOffsets.set(n.record.offset, lane);
      }
    }
    const active = (r: RawRecord) => !deferredOffsets.has(r.offset);

    const deadLetters: DeadLetter[] = decoded.deadLetters.filter((d) => active(d.record));
    const outcomes: RoundResult['outcomes'] = [];
    for (let i = 0; i < deadLetters.length; i++)
      outcomes.push({ family: 'unknown', outcome: 'dead_lettered' });
    for (const n of duplicates)
      if (active(n.record)) outcomes.push({ family: n.family, outcome: 'duplicate' });
    const handled: Notification[] = [];
    for (const n of pre.stale) {
      if (!active(n.record)) continue;
      handled.push(n);
      outcomes.push({ family: n.family, outcome: 'stale' });
    }

    // Apply expansions, then normalize and encode every candidate; failures are dead letters.
    const prepared = new Map<Notification, DomainOutput>();
    let changed = false;
    for (const candidate of pre.emit) {
      if (!active(candidate.record)) {
        changed = true;
        continue;
      }
      let n: Notification = candidate;
      if (needsExpansion(candidate)) {
        const outcome = expansions.outcome(candidate.record.offset) as ExpandOutcome;
        const applied = applyExpansion(candidate, outcome);
        if (isDeadLetter(applied)) {
          deadLetters.push(applied);
          outcomes.push({ family: n.family, outcome: 'dead_lettered' });
          changed = true;
          continue;
        }
        n = applied;
        if (n.goneOnExpand) changed = true;
        if (n.expanded) outcomes.push({ family: n.family, outcome: 'expanded' });
      }
      const output = this.prepare(n);
      if ('reason' in output) {
        deadLetters.push(output);
        outcomes.push({ family: n.family, outcome: 'dead_lettered' });
        changed = true;
      } else {
        prepared.set(n, output);
      }
    }

    // Order again only if something changed between the passes (a dead letter, a grant set aside, a
    // 404 turned into a delete); otherwise the first pass stands as it is.
    const final = changed
      ? order([...prepared.keys()], lookup)
      : { emit: [...prepared.keys()], stale: [] as Notification[], versions: pre.versions };
    const domain: DomainOutput[] = [];
    for (const n of final.emit) {
      const out = prepared.get(n) as DomainOutput;
      domain.push(out);
      handled.push(n);
      outcomes.push({ family: n.family, outcome: 'emitted' });
      // Counted beside 'emitted', so an operator sees how often a downstream team gets no body.
      if (out.bodyOmitted) outcomes.push({ family: n.family, outcome: 'body_omitted' });
    }
    for (const n of final.stale) {
      handled.push(n);
      outcomes.push({ family: n.family, outcome: 'stale' });
    }

    const stateChanges = stateChangesOf(handled, final.versions, now, deps.dedupeWindowMs);

    const deferred = records
      .filter((r) => !active(r))
      .sort(byOffset)
      .map((record): DeferredRecord => ({ lane: deferredOffsets.get(record.offset) as string, record }));
    return {
      domain,
      deadLetters,
      stateChanges,
      deferred,
      handledOffsets: records.filter(active).map((r) => r.offset),
      outcomes,
    };
  }

  /**
   * normalize → encode → fit the domain topic, for one notification. Both stages are pure, so an
   * exception is this record's (a retry would throw again, forever) and becomes its dead letter,
   * re-drivable once the code is fixed; only an error that says a retry can succeed fails the round.
   * An event over the topic's limit is emitted without its body if that fits, else dead-lettered: a
   * produce the broker refuses (MESSAGE_TOO_LARGE) would fail the round forever.
   */
  private prepare(n: Notification): DomainOutput | DeadLetter {
    const { deps } = this;
    let event: DomainEvent;
    try {
      event = deps.normalize(n, deps.topics);
    } catch (err) {
      return stageFailure(n, err, 'NORMALIZE_FAILED', 'normalize');
    }
    try {
      const limit = deps.topics.maxMessageBytes - OUTPUT_MARGIN_BYTES;
      let message = deps.encoder.message(event);
      let size = recordBatchBytes(message);
      let omitted = '';
      if (size > limit) {
        const slim = withoutBody(event);
        if (slim !== undefined) {
          omitted = `, ${size} with its body`;
          message = deps.encoder.message(slim);
          size = recordBatchBytes(message);
        }
      }
      if (size > limit) {
        return {
          record: n.record,
          reason: 'EVENT_TOO_LARGE',
          code: ErrorCodes.EVENT_TOO_LARGE,
          message:
            `the ${event.schema} event takes ${size} bytes${omitted}; ${event.topic} accepts ` +
            `${deps.topics.maxMessageBytes} (TOPIC_MAX_MESSAGE_BYTES) less a ${OUTPUT_MARGIN_BYTES}-byte margin`,
          stage: 'produce',
          redrivable: true,
        };
      }
      return {
        topic: event.topic,
        message,
        receivedAt: n.receivedAt,
        ...(omitted === '' ? {} : { bodyOmitted: true as const }),
      };
    } catch (err) {
      return stageFailure(n, err, 'SCHEMA_ENCODE_FAILED', 'encode');
    }
  }
}

/** Kept free below the domain topic's max.message.bytes: what the size estimate might miss. */
export const OUTPUT_MARGIN_BYTES = 16 * 1024;

function stageFailure(
  n: Notification,
  err: unknown,
  reason: 'NORMALIZE_FAILED' | 'SCHEMA_ENCODE_FAILED',
  stage: 'normalize' | 'encode',
): DeadLetter {
  if (isRetriable(err)) throw err;
  const e = err as Error;
  return {
    record: n.record,
    reason,
    code: errorCodeOf(err),
    message: err instanceof NylasStreamError ? err.message : `${stage} threw ${e?.name}: ${e?.message}`,
    stage,
    redrivable: true,
  };
}
