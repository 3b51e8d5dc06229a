/**
 * kafkajs's DefaultPartitioner (Java-compatible murmur2 of the key, modulo the partition count) with the
 * key's hash remembered.
 *
 * Why: every domain event is keyed by its grant id, and a grant produces many events, but kafkajs hashes
 * the key again for every message with a murmur2 built on 64-bit Long objects, a visible share of the
 * processor's main thread in its CPU profile (docs/benchmarks.md). The hash depends only on the key, so
 * it is kept;
 * the partition is still taken modulo the topic's current partition count at each send, so the choice
 * is exactly kafkajs's (test/unit/lib/kafkajs/partitioner.test.ts compares them), and domain topics stay
 * co-partitioned with the raw topic by grant.
 *
 * Where it put each message is remembered for checkedSendBatch (send-coverage.ts).
 *
 * Messages with an explicit partition, without a key, or with a Buffer key go to kafkajs's own. Used
 * only when kafkajs's murmur2 loads and picks the same partitions as its DefaultPartitioner (checked
 * once); otherwise every message goes to DefaultPartitioner.
 */
import { type ICustomPartitioner, type PartitionerArgs, Partitioners, type PartitionMetadata } from 'kafkajs';
import { type AdaptationStatus, installOnce } from './adaptation';
import { rememberingPlacement } from './send-coverage';

type Murmur2 = (key: string) => number;

function isFunction(value: unknown): value is Murmur2 {
  return typeof value === 'function';
}

/** Distinct keys remembered per producer before the memory starts over (grant ids: a few thousand). */
const MAX_REMEMBERED_KEYS = 100_000;

/** kafkajs's toPositive: the sign bit dropped, not the absolute value. */
function positive(hash: number): number {
  return hash & 0x7fffffff;
}

/** Keys whose partitions the check compares (multi-byte UTF-8 included: murmur2 hashes bytes). */
const PROBE_KEYS = ['', 'a', 'grant-1', 'ä-grant-ü', '🙂', '7f3c2a91-5d2e-4c8b-9a6f-1e0b2d4c6a8e'];
const PROBE_PARTITIONS: PartitionMetadata[] = Array.from({ length: 97 }, (_, i) => ({
  partitionErrorCode: 0,
  partitionId: i,
  leader: 1,
  replicas: [1],
  isr: [1],
}));

/** Co-partitioning depends on this: a murmur2 that picks other partitions than kafkajs must not be used. */
function agreesWithDefaultPartitioner(murmur2: Murmur2): boolean {
  const theirs = Partitioners.DefaultPartitioner();
  return PROBE_KEYS.every(
    (key) =>
      theirs({ topic: 'probe', partitionMetadata: PROBE_PARTITIONS, message: { key, value: null } }) ===
      positive(murmur2(key)) % PROBE_PARTITIONS.length,
  );
}

/** kafkajs's own murmur2 once checked; undefined until then, or when it is not usable. */
let verified: Murmur2 | undefined;
let checked = false;

export interface KeyHashPartitionerOptions {
  /** kafkajs's murmur2 (the one DefaultPartitioner uses; not part of its typed API), or a test's. */
  murmur2?: unknown;
  kafkajsVersion?: string;
}

/** Checks kafkajs's murmur2 (once) and says whether KeyHashPartitioner remembers hashes with it. */
export function installKeyHashPartitioner(options: KeyHashPartitionerOptions = {}): AdaptationStatus {
  const status = installOnce({
    name: 'key-hash-partitioner',
    kafkajsVersion: options.kafkajsVersion,
    load: () => options.murmur2 ?? require('kafkajs/src/producer/partitioners/default/murmur2'),
    check: isFunction,
    refused: "kafkajs's murmur2 module is not a function",
    apply: (murmur2) => {
      if (!agreesWithDefaultPartitioner(murmur2)) {
        throw new Error("murmur2 picks other partitions than kafkajs's DefaultPartitioner");
      }
      if (options.murmur2 === undefined) verified = murmur2;
    },
  });
  if (options.murmur2 === undefined) checked = true;
  return status;
}

/** kafkajs's DefaultPartitioner, remembering each string key's hash; DefaultPartitioner itself when
 * kafkajs's murmur2 cannot be used (see installKeyHashPartitioner). */
export const KeyHashPartitioner: ICustomPartitioner = () => {
  const fallback = Partitioners.DefaultPartitioner();
  if (!checked) installKeyHashPartitioner();
  const murmur2 = verified;
  // Either way each message's partition is remembered: checkedSendBatch (send-coverage.ts) needs it.
  if (!murmur2) return rememberingPlacement(fallback);
  const hashes = new Map<string, number>();
  return rememberingPlacement((args: PartitionerArgs) => {
    const { message, partitionMetadata } = args;
    const key = message.key;
    if (message.partition !== undefined && message.partition !== null) return fallback(args);
    if (typeof key !== 'string' || partitionMetadata.length === 0) return fallback(args);
    let hash = hashes.get(key);
    if (hash === undefined) {
      if (hashes.size >= MAX_REMEMBERED_KEYS) hashes.clear();
      hash = positive(murmur2(key));
      hashes.set(key, hash);
    }
    return hash % partitionMetadata.length;
  });
};
