/**
 * The embedded engine under the processor's state stores: one RocksDB database per processor (per
 * PROCESSOR_STATE_DIR, consumer group and raw topic), shared by the partition stores, each of which keeps
 * to its own key range (store.ts). docs/decisions/0005-state-on-local-disk.md has the measurements behind the
 * choice (RocksDB over LMDB: an LSM tree writes random 16-byte keys sequentially, a B-tree rewrites a page
 * per key; reads go through a bounded block cache instead of a memory map that counts in the RSS).
 *
 * One database per process rather than one per partition, so its memory is bounded once, whatever the
 * number of assigned partitions: one block cache (RocksDB's default, 32 MiB), memtables of
 * WRITE_BUFFER_BYTES × MAX_WRITE_BUFFERS, index and filter blocks held in the block cache (not pinned:
 * pinned filters grow with the data).
 *
 * Writes keep RocksDB's write-ahead log without syncing it: a killed process loses nothing the OS has,
 * and a lost machine loses the checkpoint together with the changes (one write batch), so the restore
 * re-applies them from the changelog.
 */
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import RocksDB from 'rocksdb-native';
import { ConfigError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';

const WRITE_BUFFER_BYTES = 16 * 1024 * 1024;
const MAX_WRITE_BUFFERS = 2;
/** Compaction and flush threads: the processor's own work needs the cores more. */
const BACKGROUND_JOBS = 2;
/** Open table files: each holds a little memory, and the count grows with the data. */
const MAX_OPEN_FILES = 512;

export interface WriteOps {
  put(key: Buffer, value: Buffer): void;
  delete(key: Buffer): void;
  /** Removes every key in [start, end). */
  deleteRange(start: Buffer, end: Buffer): void;
}

export class StateEngine {
  private constructor(
    readonly path: string,
    private readonly db: RocksDB,
  ) {}

  /**
   * Opens (creating if needed) the database at `path`. One that cannot be opened for any reason but a
   * lock (damaged files, a file where the directory should be) is removed and created empty: the stores
   * are then restored from the changelog. A lock held by another processor is a configuration error.
   */
  static async open(path: string, logger: Logger): Promise<StateEngine> {
    try {
      return await StateEngine.tryOpen(path);
    } catch (err) {
      if (isLockError(err))
        throw new ConfigError(
          'PROCESSOR_STATE_DIR',
          `${path} is in use by another processor (${errorText(err)}); give each processor on a machine its own state directory`,
        );
      logger.error(
        { err, path },
        'state database could not be opened; removing it (restored from the changelog)',
      );
      rmSync(path, { recursive: true, force: true });
      return StateEngine.tryOpen(path);
    }
  }

  private static async tryOpen(path: string): Promise<StateEngine> {
    const db = new RocksDB(path, {
      createIfMissing: true,
      writeBufferSize: WRITE_BUFFER_BYTES,
      maxWriteBufferNumber: MAX_WRITE_BUFFERS,
      maxBackgroundJobs: BACKGROUND_JOBS,
      maxOpenFiles: MAX_OPEN_FILES,
      tableCacheIndexAndFilterBlocks: true,
      topLevelIndexPinningTier: RocksDB.constants.pinningTier.ALL,
      partitionPinningTier: RocksDB.constants.pinningTier.NONE,
      unpartitionedPinningTier: RocksDB.constants.pinningTier.NONE,
    });
    await db.ready();
    return new StateEngine(path, db);
  }

  /** Reads `keys` in one batch (one trip to RocksDB's threads); null where a key is absent. */
  async get(keys: readonly Buffer[]): Promise<Array<Buffer | null>> {
    if (keys.length === 0) return [];
    const batch = this.db.read({ autoDestroy: true, capacity: keys.length });
    const values = keys.map((k) => batch.get(k));
    batch.tryFlush();
    return Promise.all(values);
  }

  /** Writes what `build` adds, atomically (one RocksDB write batch), in the order added. */
  async write(build: (ops: WriteOps) => void): Promise<void> {
    const batch = this.db.write({ autoDestroy: true });
    build({
      put: (k, v) => batch.tryPut(k, v),
      delete: (k) => batch.tryDelete(k),
      deleteRange: (s, e) => batch.tryDeleteRange(s, e),
    });
    await batch.flush();
  }

  /** Up to `limit` entries with keys in [gte, lt), in key order. */
  async scan(gte: Buffer, lt: Buffer, limit: number): Promise<Array<{ key: Buffer; value: Buffer }>> {
    const out: Array<{ key: Buffer; value: Buffer }> = [];
    if (limit <= 0) return out;
    for await (const entry of this.db.iterator({ gte, lt, limit })) out.push(entry);
    return out;
  }

  /** Bytes the database's files take (SST tables, write-ahead log, manifest). */
  diskBytes(): number {
    return directoryBytes(this.path);
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

/** Bytes the files directly in `path` take (a RocksDB directory has no subdirectories). */
export function directoryBytes(path: string): number {
  let total = 0;
  try {
    for (const name of readdirSync(path)) total += statSync(join(path, name)).size;
  } catch {
    return 0;
  }
  return total;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** RocksDB's LOCK file is held (by another process, or another open database in this one). */
function isLockError(err: unknown): boolean {
  return /\bLOCK\b|lock hold|Resource temporarily unavailable/i.test(errorText(err));
}
