/**
 * Within one checked send, a record a broker has answered for is never handed to kafkajs's Produce again.
 *
 * Why: kafkajs 2.2.4's send retries per broker, not per partition: a retry sends every partition whose
 * *current* leader has not answered yet. When a partition's old leader answered for it (the write is
 * there) and its leadership then moved to a broker that has not answered, the retry sends the partition's
 * records to the new leader under the next sequence numbers, and the broker writes them a second time
 * inside the same transaction. The mirror case (the new leader had answered already, so the partition is
 * skipped) is send-coverage.ts's. Seen in the clean-clone CI of 2026-12-07 (test/e2e/failover.test.ts):
 * two domain events written twice at consecutive offsets, 3.5 s apart, while broker 2 stopped.
 *
 * What: checkedSendBatch opens a scope for its messages; Broker#produce (wrapped in send-retry.ts) marks
 * the messages of a request the broker answered, and refuses a request that carries a marked one with
 * AnsweredElsewhereError before anything is sent. kafkajs then gives the request's sequence numbers back
 * and fails the send without retrying; the processor aborts the round's transaction (its first write with
 * it) and does the round again, the ingress answers 503 (Nylas delivers again; the raw copy is
 * deduplicated). Messages outside a checked send (the backfill's) are not guarded.
 */

import { isObj } from '../json';

/** The messages of one checked send, and those of them a broker has answered for. */
interface SendScope {
  answered: WeakSet<object>;
}

const scopeOf = new WeakMap<object, SendScope>();

/** Opens a scope for the messages of one send (a message sent again later starts unanswered). */
export function openSendScope(messages: Iterable<object>): void {
  const scope: SendScope = { answered: new WeakSet() };
  for (const m of messages) scopeOf.set(m, scope);
}

/**
 * The failure of a send whose retry would write again what a broker already answered for. Not retriable
 * for kafkajs (its retry is what must not happen); lib/kafkajs/errors.ts counts it as transient, the
 * broker's condition (a leader moved), not the records' fault.
 */
export class AnsweredElsewhereError extends Error {
  override readonly name = 'AnsweredElsewhereError';
  readonly retriable = false;
}

interface ProduceRequestShape {
  topicData?: Array<{ topic?: unknown; partitions?: Array<{ partition?: unknown; messages?: unknown[] }> }>;
}

/**
 * The request's partitions whose records a broker already answered for in the same send. Runs on every
 * Produce, over every message: a lookup per message, and a label only for a partition found.
 */
export function answeredAlready(request: ProduceRequestShape): string[] {
  const found: string[] = [];
  for (const t of request.topicData ?? [])
    for (const p of t.partitions ?? [])
      if (p.messages?.some((m) => isObj(m) && scopeOf.get(m)?.answered.has(m)))
        found.push(`${String(t.topic)}:${String(p.partition)}`);
  return found;
}

/** Marks the request's messages as answered (its Produce succeeded: kafkajs throws on any partition's error). */
export function markAnswered(request: ProduceRequestShape): void {
  for (const t of request.topicData ?? [])
    for (const p of t.partitions ?? [])
      for (const m of p.messages ?? []) if (isObj(m)) scopeOf.get(m)?.answered.add(m);
}
