/**
 * The pipeline: runs the stages over one round of records of one input partition against its store and
 * says what the round's transaction must contain (docs/architecture.md, "Processors"):
 *
 *   decode → window → dedupe → order → expand → normalize → encode → (order again over what survived)
 *
 * Order runs before expand so stale truncated messages are never fetched; it runs again at the end over
 * the notifications that are still publishable, because expansion can turn an update into a delete (404)
 * and normalize/encode can dead-letter one, and the rules (delete is final, ties) must hold for what is
 * actually emitted. Nothing here writes the store or Kafka: the caller commits the outputs and state
 * changes in one transaction and applies the changes to the store only after the commit.
 *
 * Slow API, per object: notifications whose expansion is still pending after `deferAfterMs` are set
 * aside by object ("lanes"), and the caller resubmits them once their expansions settle; processors/deferral/
 * owns that whole mechanism.
 */
import type { Message } from 'kafkajs';
import type { TopicsConfig } from '../lib/config';
import { lifecycleFactMessage } from './backfill/facts';
import { knownObjectMessage } from './backfill/known-objects';
import { deadLetterForThrown, deadLetterOf } from './dead-letter';
import {
  type DeferredRecord,
  type ExpansionCache,
  expandOrSetAside,
  outsideWaitingLanes,
  type SetAside,
} from './deferral/index';
import type { NotificationOutcome } from './metrics';
import { objectKeyString } from './object-identity';
import { decodeBatch } from './stages/decode';
import { dedupe, dedupeEntries } from './stages/dedupe';
import { applyExpansion, type ExpandOutcome, isDeadLetter, needsExpansion } from './stages/expand';
import { withoutBody } from './stages/normalize';
import { order } from './stages/order';
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
  /** `dropped` aborts when the partition went (processors/deferral/expansion-cache.ts). */
  expand: (n: Notification, dropped?: AbortSignal) => Promise<ExpandOutcome>;
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
  /** Lifecycle facts of the grant events emitted, for the backfill coordinator (backfill/facts.ts):
   * written to the backfill topic in the round's transaction. */
  facts: Message[];
  /** The contacts, calendars and folders emitted, for backfill reconciliation (backfill/known-objects.ts):
   * written to the known-objects topic in the round's transaction. */
  known: Message[];
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

/** One round's input: `records` in offset order, the partition's store, its expansions and the lanes
 * still waiting from earlier rounds. */
export interface RoundInput {
  records: readonly RawRecord[];
  store: PartitionStore;
  now: number;
  expansions: ExpansionCache;
  waitingLanes: ReadonlySet<string>;
}

/** What a round has handled or refused so far, filled in by the steps in turn. */
interface Tally {
  deadLetters: DeadLetter[];
  outcomes: RoundResult['outcomes'];
  /** Notifications the store remembers after the commit (emitted or stale). */
  handled: Notification[];
  facts: Message[];
  known: Message[];
}

type Ordered = ReturnType<typeof order>;

/**
 * One round. Throws only for faults that are not the records' fault (the caller retries the round);
 * everything a record can be blamed for becomes a dead letter.
 */
export async function runPipeline(deps: PipelineDeps, input: RoundInput): Promise<RoundResult> {
  const { store, now } = input;
  const decoded = decodeWithinWindow(deps, input.records, now);
  const ready = outsideWaitingLanes(decoded.notifications, input.waitingLanes);
  // Everything the round looks up, read from disk in one batch; the stages below answer from memory.
  await store.prefetch(
    ready.map((n) => n.envelope.id),
    ready.map((n) => objectKeyString(n.object)),
  );
  const { unique, duplicates } = dedupe(ready, (id) => store.seen(id, now));
  const lookup = (key: string) => store.version(key, now);
  const pre = order(unique, lookup);
  const aside = await expandOrSetAside({
    candidates: pre.emit,
    decoded: decoded.notifications,
    expansions: input.expansions,
    expand: deps.expand,
    deferAfterMs: deps.deferAfterMs,
    waitingLanes: input.waitingLanes,
  });
  const tally = tallySkipped(decoded.deadLetters, duplicates, pre.stale, aside);
  const { prepared, changed } = prepareCandidates(deps, pre.emit, input.expansions, aside, tally);
  // Order again only if something changed between the passes (a dead letter, an object set aside, a
  // 404 turned into a delete); otherwise the first pass stands as it is.
  const final: Ordered = changed
    ? order([...prepared.keys()], lookup)
    : { emit: [...prepared.keys()], stale: [], versions: pre.versions };
  const domain = emitFinal(final, prepared, tally);
  return {
    domain,
    deadLetters: tally.deadLetters,
    stateChanges: stateChangesOf(tally.handled, final.versions, now, deps.dedupeWindowMs),
    deferred: aside.deferred(input.records),
    handledOffsets: input.records.filter((r) => aside.active(r)).map((r) => r.offset),
    outcomes: tally.outcomes,
    facts: tally.facts,
    known: tally.known,
  };
}

function decodeWithinWindow(deps: PipelineDeps, records: readonly RawRecord[], now: number) {
  return refuseBeyondWindow(decodeBatch(records), now, {
    dedupeWindowMs: deps.dedupeWindowMs,
    acceptWindowMs: deps.acceptWindowMs ?? defaultAcceptWindowMs(deps.dedupeWindowMs),
  });
}

/** Records the round settles without emitting: undecodable, duplicate, stale (unless set aside). */
function tallySkipped(
  undecodable: readonly DeadLetter[],
  duplicates: readonly Notification[],
  stale: readonly Notification[],
  aside: SetAside,
): Tally {
  const deadLetters = undecodable.filter((d) => aside.active(d.record));
  const tally: Tally = { deadLetters, outcomes: [], handled: [], facts: [], known: [] };
  for (let i = 0; i < deadLetters.length; i++)
    tally.outcomes.push({ family: 'unknown', outcome: 'dead_lettered' });
  for (const n of duplicates)
    if (aside.active(n.record)) tally.outcomes.push({ family: n.family, outcome: 'duplicate' });
  for (const n of stale) {
    if (!aside.active(n.record)) continue;
    tally.handled.push(n);
    tally.outcomes.push({ family: n.family, outcome: 'stale' });
  }
  return tally;
}

/** Applies expansions, then normalizes and encodes every candidate not set aside; failures are dead
 * letters. `changed` says the candidates are no longer the first pass's (the order must run again). */
function prepareCandidates(
  deps: PipelineDeps,
  candidates: readonly Notification[],
  expansions: ExpansionCache,
  aside: SetAside,
  tally: Tally,
): { prepared: Map<Notification, DomainOutput>; changed: boolean } {
  const prepared = new Map<Notification, DomainOutput>();
  let changed = false;
  const refuse = (dl: DeadLetter, n: Notification) => {
    tally.deadLetters.push(dl);
    tally.outcomes.push({ family: n.family, outcome: 'dead_lettered' });
    changed = true;
  };
  for (const candidate of candidates) {
    if (!aside.active(candidate.record)) {
      changed = true;
      continue;
    }
    let n: Notification = candidate;
    if (needsExpansion(candidate)) {
      const applied = expanded(candidate, expansions);
      if (isDeadLetter(applied)) {
        refuse(applied, candidate);
        continue;
      }
      n = applied;
      if (n.goneOnExpand) changed = true;
      if (n.expanded) tally.outcomes.push({ family: n.family, outcome: 'expanded' });
    }
    const output = prepare(deps, n);
    if ('reason' in output) refuse(output, n);
    else prepared.set(n, output);
  }
  return { prepared, changed };
}

/** A candidate that is not set aside has its expansion settled (expandOrSetAside). */
function expanded(n: Notification, expansions: ExpansionCache): Notification | DeadLetter {
  const outcome = expansions.outcome(n.record.offset);
  if (outcome === undefined) throw new Error(`expansion of offset ${n.record.offset} has not settled`);
  return applyExpansion(n, outcome);
}

function emitFinal(
  final: Ordered,
  prepared: ReadonlyMap<Notification, DomainOutput>,
  tally: Tally,
): DomainOutput[] {
  const domain: DomainOutput[] = [];
  for (const n of final.emit) {
    const out = prepared.get(n);
    if (out === undefined) continue; // order only returns what it was given
    domain.push(out);
    if (n.family === 'grant') {
      const fact = lifecycleFactMessage(n);
      if (fact !== undefined) tally.facts.push(fact);
    }
    const known = knownObjectMessage(n);
    if (known !== undefined) tally.known.push(known);
    tally.handled.push(n);
    tally.outcomes.push({ family: n.family, outcome: 'emitted' });
    // Counted beside 'emitted', so an operator sees how often a downstream team gets no body.
    if (out.bodyOmitted) tally.outcomes.push({ family: n.family, outcome: 'body_omitted' });
  }
  for (const n of final.stale) {
    tally.handled.push(n);
    tally.outcomes.push({ family: n.family, outcome: 'stale' });
  }
  return domain;
}

/** The pipeline's dependencies bound once, for callers that run many rounds (the partition worker). */
export class Pipeline {
  constructor(private readonly deps: PipelineDeps) {}

  run(
    records: readonly RawRecord[],
    store: PartitionStore,
    now: number,
    expansions: ExpansionCache,
    waitingLanes: ReadonlySet<string> = new Set(),
  ): Promise<RoundResult> {
    return runPipeline(this.deps, { records, store, now, expansions, waitingLanes });
  }
}

/**
 * normalize → encode → fit the domain topic, for one notification. Both stages are pure, so an
 * exception is this record's (a retry would throw again, forever) and becomes its dead letter,
 * re-drivable once the code is fixed; only an error that says a retry can succeed fails the round.
 * An event over the topic's limit is emitted without its body if that fits, else dead-lettered: a
 * produce the broker refuses (MESSAGE_TOO_LARGE) would fail the round forever.
 */
function prepare(deps: PipelineDeps, n: Notification): DomainOutput | DeadLetter {
  let event: DomainEvent;
  try {
    event = deps.normalize(n, deps.topics);
  } catch (err) {
    return deadLetterForThrown(n.record, err, 'NORMALIZE_FAILED', 'normalize');
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
      return deadLetterOf(
        n.record,
        'EVENT_TOO_LARGE',
        'produce',
        `the ${event.schema} event takes ${size} bytes${omitted}; ${event.topic} accepts ` +
          `${deps.topics.maxMessageBytes} (TOPIC_MAX_MESSAGE_BYTES) less a ${OUTPUT_MARGIN_BYTES}-byte margin`,
      );
    }
    return {
      topic: event.topic,
      message,
      receivedAt: n.receivedAt,
      ...(omitted === '' ? {} : { bodyOmitted: true as const }),
    };
  } catch (err) {
    return deadLetterForThrown(n.record, err, 'SCHEMA_ENCODE_FAILED', 'encode');
  }
}

/** Kept free below the domain topic's max.message.bytes: what the size estimate might miss. */
export const OUTPUT_MARGIN_BYTES = 16 * 1024;
