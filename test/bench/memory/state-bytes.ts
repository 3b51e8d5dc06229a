/**
 * Bytes of processor state per entry, measured in a fresh process run with --expose-gc, for the on-disk
 * PartitionStore (RocksDB in a temporary directory, the default hot-set cache) after applying N dedupe ids
 * (notification ids: 36-character UUIDs, as Nylas sends) and M object versions:
 * - heap: the heap used minus the heap before, after full collections, divided by the count. The id
 *   strings count: once a round has committed, the store (its cache) is the only thing that keeps them.
 *   With the store on disk this is the cache's share, so it falls as N grows past the cache.
 * - disk: the store's files (diskBytes) after minus before, divided by the count.
 */
import { randomUUID } from 'node:crypto';
import { changelogMessages } from '../../../processors/state/changelog';
import { directoryBytes } from '../../../processors/state/engine';
import type { StateChange } from '../../../processors/state/store';
import { closeTestStores, openTestStore, testStoreDir } from '../../helpers/state-store';
import { serveParent } from '../lib/child';

declare const gc: () => void;

/** A notification id as the processor holds it: a flat string out of JSON.parse (randomUUID() alone
 * returns a rope of hex pieces several times the size). */
function notificationId(): string {
  return JSON.parse(`"${randomUUID()}"`) as string;
}

function settledHeap(): number {
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage().heapUsed;
}

export interface StateBytesResult {
  dedupeIds: number;
  /** Heap bytes per dedupe id. */
  bytesPerDedupeId: number;
  versions: number;
  /** Heap bytes per object version. */
  bytesPerVersion: number;
  /** Heap held by the store with both, MB. */
  storeHeapMb: number;
  diskBytesPerDedupeId: number;
  diskBytesPerVersion: number;
  /** The store's files with both, MB. */
  storeDiskMb: number;
  /** The hot-set cache the store had (entries). */
  cacheEntries: number;
}

/** PROCESSOR_STATE_CACHE_ENTRIES' default (processors/config.ts). */
const CACHE_ENTRIES = 10_000;

/** Notifications per transaction: the store also tracks each transaction's changelog bucket. */
const ROUND = 500;

/**
 * Changes are built per round, encoded into changelog records (processors/state/changelog.ts) and
 * applied with their bucket bookkeeping, as the partition worker does after a commit; then they are
 * dropped, so after a collection the heap holds the store and what only the store keeps alive — as in
 * the processor, where the notification (and its id string) is garbage once the round committed.
 */
async function measure(dedupeIds: number, versions: number): Promise<StateBytesResult> {
  const path = testStoreDir();
  const store = await openTestStore(0, { path, cacheEntries: CACHE_ENTRIES, now: Date.now });
  const diskBytes = () => directoryBytes(path);
  const expiresAt = Date.now() + 72 * 3_600_000;
  const before = settledHeap();
  const diskBefore = diskBytes();
  const commit = async (changes: StateChange[]) => {
    const { tracking } = changelogMessages(0, 0, changes);
    await store.apply([...changes, ...tracking]);
  };
  for (let done = 0; done < dedupeIds; done += ROUND) {
    const changes: StateChange[] = [];
    for (let i = done; i < Math.min(dedupeIds, done + ROUND); i++)
      changes.push({ kind: 'dedupe', id: notificationId(), expiresAt: expiresAt + done });
    await commit(changes);
  }
  const afterIds = settledHeap();
  const diskAfterIds = diskBytes();
  for (let done = 0; done < versions; done += ROUND) {
    const changes: StateChange[] = [];
    for (let i = done; i < Math.min(versions, done + ROUND); i++)
      changes.push({
        kind: 'version',
        key: { grantId: `grant-${i % 200}`, objectType: 'event', objectId: notificationId() },
        entry: { version: BigInt(1_723_821_000 + i), offset: String(1_000_000 + i), deleted: false },
        expiresAt: expiresAt + done,
      });
    await commit(changes);
  }
  const afterVersions = settledHeap();
  const diskAfterVersions = diskBytes();
  const counts = store.counts();
  await closeTestStores();
  if (counts.dedupe !== dedupeIds || counts.version !== versions) throw new Error('unexpected store counts');
  const perEntry = (bytes: number, n: number) => (n > 0 ? Math.round(bytes / n) : 0);
  const mb = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;
  return {
    dedupeIds,
    bytesPerDedupeId: perEntry(afterIds - before, dedupeIds),
    versions,
    bytesPerVersion: perEntry(afterVersions - afterIds, versions),
    storeHeapMb: mb(afterVersions - before),
    diskBytesPerDedupeId: perEntry(diskAfterIds - diskBefore, dedupeIds),
    diskBytesPerVersion: perEntry(diskAfterVersions - diskAfterIds, versions),
    storeDiskMb: mb(diskAfterVersions - diskBefore),
    cacheEntries: CACHE_ENTRIES,
  };
}

serveParent(async (msg) => measure(Number(msg.dedupeIds), Number(msg.versions)))();
