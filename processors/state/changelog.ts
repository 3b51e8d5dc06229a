/**
 * The state changelog: every StateChange as one record of the compacted topic
 * `nylas-stream-processor.state`, keyed per input partition and entry so compaction keeps exactly the
 * latest value of each entry, and a forgotten entry is a Kafka tombstone (null value) that compaction
 * eventually removes.
 *
 *   key (JSON array)                                   value (JSON, or null = forgotten)
 *   [partition, "d", notificationId]                   {"e": expiresAtMs}
 *   [partition, "v", grantId, objectType, objectId]    {"v": "version", "o": "offset", "d": 0|1, "e": expiresAtMs}
 *   [partition, "p"]                                   {"n": next, "t": through, "u": [unprocessed offsets]}
 *
 * Records go to state partition `inputPartition mod statePartitions` (equal counts by default, so each
 * input partition has its own), and a restore reads only that partition and keeps its own keys.
 */
import type { Message } from 'kafkajs';
import type { PartitionStore, Progress, StateChange } from './store';

export function statePartitionFor(inputPartition: number, statePartitions: number): number {
  return inputPartition % statePartitions;
}

function keyOf(partition: number, c: StateChange): string {
  switch (c.kind) {
    case 'dedupe':
    case 'forget-dedupe':
      return JSON.stringify([partition, 'd', c.id]);
    case 'version':
    case 'forget-version':
      return JSON.stringify([partition, 'v', c.key.grantId, c.key.objectType, c.key.objectId]);
    case 'progress':
      return JSON.stringify([partition, 'p']);
  }
}

function encodedValue(c: StateChange): string | null {
  switch (c.kind) {
    case 'dedupe':
      return JSON.stringify({ e: c.expiresAt });
    case 'version':
      return JSON.stringify({
        v: c.entry.version.toString(),
        o: c.entry.offset,
        d: c.entry.deleted ? 1 : 0,
        e: c.expiresAt,
      });
    case 'progress':
      return c.progress === null
        ? null
        : JSON.stringify({ n: c.progress.next, t: c.progress.through, u: c.progress.unprocessed });
    case 'forget-dedupe':
    case 'forget-version':
      return null;
  }
}

/** The changelog records for changes of one input partition. Several changes to the same entry in one
 * list are written in order, so the last one wins after compaction as it does in memory. */
export function changelogMessages(
  inputPartition: number,
  statePartition: number,
  changes: readonly StateChange[],
): Message[] {
  return changes.map((c) => ({
    key: keyOf(inputPartition, c),
    value: encodedValue(c),
    partition: statePartition,
  }));
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Decodes one changelog record back into a change for `store` (restore). Records of other input
 * partitions sharing the state partition, and records that do not parse, give undefined.
 */
export function changeFromRecord(
  inputPartition: number,
  key: Buffer | null,
  value: Buffer | null,
): StateChange | undefined {
  if (key === null) return undefined;
  let k: unknown;
  try {
    k = JSON.parse(key.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(k) || k[0] !== inputPartition) return undefined;
  let v: unknown = null;
  if (value !== null) {
    try {
      v = JSON.parse(value.toString('utf8'));
    } catch {
      return undefined;
    }
  }
  const kind = k[1];
  if (kind === 'd' && typeof k[2] === 'string') {
    if (v === null) return { kind: 'forget-dedupe', id: k[2] };
    if (isObj(v) && typeof v.e === 'number') return { kind: 'dedupe', id: k[2], expiresAt: v.e };
    return undefined;
  }
  if (kind === 'v' && typeof k[2] === 'string' && typeof k[3] === 'string' && typeof k[4] === 'string') {
    const objectKey = { grantId: k[2], objectType: k[3], objectId: k[4] };
    if (v === null) return { kind: 'forget-version', key: objectKey };
    if (isObj(v) && typeof v.v === 'string' && typeof v.o === 'string' && typeof v.e === 'number') {
      return {
        kind: 'version',
        key: objectKey,
        entry: { version: BigInt(v.v), offset: v.o, deleted: v.d === 1 },
        expiresAt: v.e,
      };
    }
    return undefined;
  }
  if (kind === 'p') {
    if (v === null) return { kind: 'progress', progress: null };
    if (isObj(v) && typeof v.n === 'string' && typeof v.t === 'string' && Array.isArray(v.u)) {
      const progress: Progress = { next: v.n, through: v.t, unprocessed: v.u.map(String) };
      return { kind: 'progress', progress };
    }
  }
  return undefined;
}

/** Applies one changelog record to the store being restored; returns whether it was ours. */
export function applyChangelogRecord(
  store: PartitionStore,
  key: Buffer | null,
  value: Buffer | null,
): boolean {
  const c = changeFromRecord(store.partition, key, value);
  if (c === undefined) return false;
  store.apply([c]);
  return true;
}
