/**
 * What the processor tells the backfill coordinator: each grant.* notification it emits, reduced to a
 * lifecycle fact (records.ts) and written to the backfill topic in the same transaction as the grant's
 * domain event, so the coordinator sees every emitted grant event exactly once and nothing the
 * processor refused (duplicates, stale copies, dead letters).
 */
import type { Message } from 'kafkajs';
import { long, obj } from '../../lib/json';
import { isReauthentication } from '../stages/normalize/grants';
import type { Notification } from '../types';
import { factKey, type LifecycleFact } from './records';

const ACTIONS: ReadonlySet<string> = new Set(['created', 'updated', 'expired', 'deleted']);

export function lifecycleFactOf(n: Notification): LifecycleFact | undefined {
  if (n.family !== 'grant' || !ACTIONS.has(n.action)) return undefined;
  const o = obj(n.envelope.data.object) ?? {};
  const grantUpdatedAt = long(o.grant_updated_at);
  return {
    kind: 'fact',
    id: n.envelope.id,
    grantId: n.grantId,
    applicationId: n.applicationId,
    action: n.action as LifecycleFact['action'],
    at: Math.floor(n.envelope.time),
    ...(grantUpdatedAt !== null && grantUpdatedAt >= 0 ? { grantUpdatedAt } : {}),
    reauthenticated: isReauthentication(o),
  };
}

/** The fact's record on the backfill topic: the grant's partition, which is the raw record's (the topics
 * are co-partitioned by grant). */
export function lifecycleFactMessage(n: Notification): Message | undefined {
  const fact = lifecycleFactOf(n);
  if (fact === undefined) return undefined;
  return {
    key: factKey(fact.grantId, fact.id),
    value: JSON.stringify(fact),
    partition: n.record.partition,
  };
}
