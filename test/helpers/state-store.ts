/**
 * On-disk state stores for unit tests: each in a fresh temporary directory, so tests never share one.
 * The store under test is the real one (LMDB), not a stand-in.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PartitionStore, type PartitionStoreOptions } from '../../processors/state/store';

/** A 96 h window, as DEDUPE_WINDOW's default. */
export const TEST_WINDOW_MS = 96 * 3_600_000;

/** Directories made by testStoreDir and stores opened by openTestStore, for closeTestStores. */
const dirs: string[] = [];
const opened: PartitionStore[] = [];

export function testStoreDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nylas-stream-store-'));
  dirs.push(dir);
  return dir;
}

/** A new, empty store for `partition` (options override the defaults: a 96 h window, a small cache, a clock at 0). */
export function openTestStore(
  partition = 0,
  options: Partial<Omit<PartitionStoreOptions, 'partition'>> = {},
): PartitionStore {
  const store = PartitionStore.open({
    partition,
    path: options.path ?? testStoreDir(),
    windowMs: options.windowMs ?? TEST_WINDOW_MS,
    cacheEntries: options.cacheEntries ?? 1000,
    // The store's own clock only drops what expired: tests use small times, so by default nothing has.
    now: options.now ?? (() => 0),
  });
  opened.push(store);
  return store;
}

/** Closes every store openTestStore opened and removes the directories testStoreDir made (afterAll):
 * each LMDB environment holds a memory map and file handles until closed. */
export async function closeTestStores(): Promise<void> {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
