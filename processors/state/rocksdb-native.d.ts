/**
 * The part of rocksdb-native (Holepunch's binding of RocksDB, which ships no types) the state engine
 * uses: engine.ts is the only module that imports it. Keys and values are Buffers (no encodings set).
 */
declare module 'rocksdb-native' {
  interface BatchOptions {
    /** Frees the batch once flushed: a batch left alive holds a handle, and close() waits for it forever. */
    autoDestroy?: boolean;
    capacity?: number;
  }

  interface ReadBatch {
    get(key: Buffer): Promise<Buffer | null>;
    tryFlush(): void;
    destroy(): void;
  }

  interface WriteBatch {
    tryPut(key: Buffer, value: Buffer): void;
    tryDelete(key: Buffer): void;
    tryDeleteRange(start: Buffer, end: Buffer): void;
    flush(): Promise<void>;
    destroy(): void;
  }

  interface ColumnFamilyOptions {
    writeBufferSize?: number;
    maxWriteBufferNumber?: number;
    tableBlockSize?: number;
    tableCacheIndexAndFilterBlocks?: boolean;
    topLevelIndexPinningTier?: number;
    partitionPinningTier?: number;
    unpartitionedPinningTier?: number;
    optimizeFiltersForMemory?: boolean;
  }

  interface RocksDBOptions extends ColumnFamilyOptions {
    createIfMissing?: boolean;
    maxBackgroundJobs?: number;
    maxOpenFiles?: number;
  }

  interface IteratorRange {
    gt?: Buffer;
    gte?: Buffer;
    lt?: Buffer;
    lte?: Buffer;
    limit?: number;
    reverse?: boolean;
  }

  class RocksDB {
    constructor(path: string, options?: RocksDBOptions);
    ready(): Promise<void>;
    close(): Promise<void>;
    read(options?: BatchOptions): ReadBatch;
    write(options?: BatchOptions): WriteBatch;
    iterator(range: IteratorRange): AsyncIterable<{ key: Buffer; value: Buffer }>;
    getProperty(name: string): Promise<string>;
    static constants: { pinningTier: { NONE: number; FLUSHED_AND_SIMILAR: number; ALL: number } };
  }

  export = RocksDB;
}
