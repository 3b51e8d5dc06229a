/**
 * Keeps kafkajs's coordinator lookups for a moment instead of repeating them before every request.
 *
 * Why: kafkajs 2.2.4 sends FindCoordinator before each AddPartitionsToTxn, AddOffsetsToTxn and EndTxn
 * (the transaction coordinator) and before each TxnOffsetCommit (the group coordinator), so one
 * consume-transform-produce transaction costs several lookups besides its 5 real requests (counted with
 * the processor bench's --trace-kafka: docs/benchmarks.md). Each is a sequential round trip, and on a
 * busy broker round trips are what the processor's end-to-end latency is made of. The Java client keeps the coordinator until a request says it moved.
 *
 * What: Cluster#findGroupCoordinatorMetadata answers the lookups of producers (and admins) from a per-client
 * cache for COORDINATOR_CACHE_MS: a transactional producer's transaction-coordinator lookups and the group
 * lookup of its TxnOffsetCommit. Consumers' lookups are never cached (see below).
 * A lookup that fails is not kept. When a coordinator does move, requests to the old one fail with
 * NOT_COORDINATOR (a retriable error kafkajs retries, or, for EndTxn, a failed round that the processor
 * tears down and redoes), and the cache gives the new coordinator at most COORDINATOR_CACHE_MS later.
 * Applied only to the pinned kafkajs version (lib/kafkajs/version.ts).
 */
import { type AdaptationStatus, hasMethod, installOnce, prototypeOf } from './adaptation';

/** How long a coordinator lookup is reused (per client, per group or transactional id). */
export const COORDINATOR_CACHE_MS = 2000;

/** The part of kafkajs's Cluster the cache looks at: consumers' clusters carry an isolation level. */
interface ClusterLike {
  isolationLevel?: number;
}

interface CoordinatorParams {
  groupId: string;
  coordinatorType?: number;
}

interface ClusterPrototype {
  findGroupCoordinatorMetadata(this: ClusterLike, params: CoordinatorParams): Promise<unknown>;
}

function isClusterPrototype(value: unknown): value is ClusterPrototype {
  return hasMethod(value, 'findGroupCoordinatorMetadata');
}

export interface CoordinatorCacheOptions {
  now?: () => number;
  /** kafkajs's Cluster prototype, or a test's stand-in. */
  clusterPrototype?: unknown;
  kafkajsVersion?: string;
}

/** Installs the cache (once per Cluster prototype) and says whether it is active. */
export function installCoordinatorCache(options: CoordinatorCacheOptions = {}): AdaptationStatus {
  const now = options.now ?? Date.now;
  return installOnce({
    name: 'coordinator-cache',
    kafkajsVersion: options.kafkajsVersion,
    load: () => options.clusterPrototype ?? prototypeOf(require('kafkajs/src/cluster')),
    check: isClusterPrototype,
    refused: "kafkajs's Cluster has no findGroupCoordinatorMetadata()",
    apply: (proto) => wrapLookup(proto, now),
  });
}

function wrapLookup(proto: ClusterPrototype, now: () => number): void {
  const original = proto.findGroupCoordinatorMetadata;
  const caches = new WeakMap<object, Map<string, { expiresAt: number; value: Promise<unknown> }>>();
  proto.findGroupCoordinatorMetadata = function (this: ClusterLike, params: CoordinatorParams) {
    // A consumer's lookups stay kafkajs's own (kafkajs gives only consumers' clusters an isolation
    // level): a consumer restarting while the broker loaded its groups hung in
    // test/e2e/processor-broker-outage.test.ts when they were cached too. A consumer asks once per join.
    if (this.isolationLevel !== undefined) return original.call(this, params);
    let cache = caches.get(this);
    if (!cache) {
      cache = new Map();
      caches.set(this, cache);
    }
    const key = `${params.coordinatorType ?? 0}\u0000${params.groupId}`;
    const t = now();
    const hit = cache.get(key);
    if (hit && hit.expiresAt > t) return hit.value;
    const value = original.call(this, params);
    const entries = cache;
    entries.set(key, { expiresAt: t + COORDINATOR_CACHE_MS, value });
    value.catch(() => {
      if (entries.get(key)?.value === value) entries.delete(key);
    });
    return value;
  };
}
