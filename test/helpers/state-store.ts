/**
 * On-disk state stores for unit tests: each in a fresh temporary directory, so tests never share one.
 * The store under test is the real one (RocksDB, processors/state/engine.ts), not a stand-in.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../lib/logger';
import { StateEngine } from '../../processors/state/engine';
import { PartitionStore, type PartitionStoreOptions } from '../../processors/state/store';

/** A 96 h window, as DEDUPE_WINDOW's default. */
export const TEST_WINDOW_MS = 96 * 3_600_000;

/** Directories made by testStoreDir, and the database open at each with the stores opened on it. */
const dirs: string[] = [];
const databases = new Map<string, { engine: StateEngine; stores: PartitionStore[] }>();

export function testStoreDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nylas-stream-store-'));
  dirs.push(dir);
  return dir;
}

/** The database at `path`: the open one while a store on it is open, else opened anew (so a store
 * closed and opened again at the same path really reads what the database kept on disk). */
async function databaseAt(path: string): Promise<{ engine: StateEngine; stores: PartitionStore[] }> {
  const open = databases.get(path);
  if (open?.stores.some((s) => !s.isClosed)) return open;
  if (open !== undefined) await open.engine.close();
  const fresh = {
    engine: await StateEngine.open(path, createLogger({ name: 'processor', level: 'silent' })),
    stores: [],
  };
  databases.set(path, fresh);
  return fresh;
}

export interface TestStoreOptions extends Partial<Omit<PartitionStoreOptions, 'partition' | 'engine'>> {
  /** The directory of the database (default: a new one). */
  path?: string;
}

/** A store for `partition` (options override the defaults: a new directory, a 96 h window, a small cache,
 * a clock at 0). */
export async function openTestStore(partition = 0, options: TestStoreOptions = {}): Promise<PartitionStore> {
  const database = await databaseAt(options.path ?? testStoreDir());
  const store = await PartitionStore.open({
    partition,
    engine: database.engine,
    windowMs: options.windowMs ?? TEST_WINDOW_MS,
    cacheEntries: options.cacheEntries ?? 1000,
    ...(options.filterBudget ? { filterBudget: options.filterBudget } : {}),
    // The store's own clock only drops what expired: tests use small times, so by default nothing has.
    now: options.now ?? (() => 0),
  });
  database.stores.push(store);
  return store;
}

/** The database open at `path` (a test that breaks it on purpose). */
export function testDatabaseAt(path: string): StateEngine {
  const open = databases.get(path);
  if (open === undefined) throw new Error(`no test database open at ${path}`);
  return open.engine;
}

/** Closes every store and database openTestStore opened and removes the directories testStoreDir made
 * (afterAll). */
export async function closeTestStores(): Promise<void> {
  for (const { engine, stores } of databases.values()) {
    await Promise.all(stores.map((s) => s.close().catch(() => undefined)));
    await engine.close();
  }
  databases.clear();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
