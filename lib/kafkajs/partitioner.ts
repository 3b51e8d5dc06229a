/**
 * kafkajs's DefaultPartitioner (Java-compatible murmur2 of the key, modulo the partition count) with the
 * key's hash remembered.
 *
 * Why: every domain event is keyed by its grant id, and a grant produces many events, but kafkajs hashes
 * the key again for every message with a murmur2 built on 64-bit Long objects (~2 µs a message, ~1.3 %
 * of the processor's main thread in its CPU profile). The hash depends only on the key, so it is kept;
 * the partition is still taken modulo the topic's current partition count at each send, so the choice
 * is exactly kafkajs's (test/unit/lib/kafkajs/partitioner.test.ts compares them), and domain topics stay
 * co-partitioned with the raw topic by grant.
 *
 * Messages with an explicit partition, without a key, or with a Buffer key go to kafkajs's own.
 */
import { type ICustomPartitioner, type PartitionerArgs, Partitioners } from 'kafkajs';

// kafkajs's own murmur2 (the one DefaultPartitioner uses); not part of its typed API.
const murmur2 = require('kafkajs/src/producer/partitioners/default/murmur2') as (key: string) => number;

/** Distinct keys remembered per producer before the memory starts over (grant ids: a few thousand). */
const MAX_REMEMBERED_KEYS = 100_000;

export const KeyHashPartitioner: ICustomPartitioner = () => {
  const fallback = Partitioners.DefaultPartitioner();
  const hashes = new Map<string, number>();
  return (args: PartitionerArgs) => {
    const { message, partitionMetadata } = args;
    const key = message.key;
    if (message.partition !== undefined && message.partition !== null) return fallback(args);
    if (typeof key !== 'string' || partitionMetadata.length === 0) return fallback(args);
    let hash = hashes.get(key);
    if (hash === undefined) {
      if (hashes.size >= MAX_REMEMBERED_KEYS) hashes.clear();
      // kafkajs's toPositive: the sign bit dropped, not the absolute value.
      hash = murmur2(key) & 0x7fffffff;
      hashes.set(key, hash);
    }
    return hash % partitionMetadata.length;
  };
};
