import { PartitionStore } from '../../../../processors/state/store';

const key = (id: string) => ({ grantId: 'g', objectType: 'message', objectId: id });
const keyString = (id: string) => JSON.stringify(['g', 'message', id]);

describe('PartitionStore', () => {
  it('remembers dedupe ids until they expire', () => {
    const s = new PartitionStore(0);
    s.apply([{ kind: 'dedupe', id: 'n1', expiresAt: 100 }]);
    expect(s.seen('n1', 99)).toBe(true);
    expect(s.seen('n1', 100)).toBe(false);
    expect(s.seen('n2', 0)).toBe(false);
  });

  it('keeps the last version per object, tombstones counted apart', () => {
    const s = new PartitionStore(0);
    s.apply([
      { kind: 'version', key: key('a'), entry: { version: 5n, offset: '1', deleted: false }, expiresAt: 100 },
      { kind: 'version', key: key('b'), entry: { version: 6n, offset: '2', deleted: true }, expiresAt: 100 },
      { kind: 'dedupe', id: 'n', expiresAt: 100 },
    ]);
    expect(s.version(keyString('a'), 0)).toEqual({ version: 5n, offset: '1', deleted: false });
    expect(s.counts()).toEqual({ dedupe: 1, version: 1, tombstone: 1 });
    s.apply([
      { kind: 'version', key: key('b'), entry: { version: 9n, offset: '3', deleted: false }, expiresAt: 200 },
    ]);
    expect(s.counts()).toEqual({ dedupe: 1, version: 2, tombstone: 0 });
    expect(s.version(keyString('b'), 199)?.version).toBe(9n);
    expect(s.version(keyString('b'), 200)).toBeUndefined();
  });

  it('forgets what a tombstoned bucket held, except entries written again later', () => {
    const s = new PartitionStore(0);
    s.apply([
      { kind: 'dedupe', id: 'a', expiresAt: 10 },
      { kind: 'dedupe', id: 'b', expiresAt: 10 },
      { kind: 'version', key: key('x'), entry: { version: 1n, offset: '1', deleted: true }, expiresAt: 10 },
      { kind: 'bucket', id: 'B1', expiresAt: 10, ids: ['a', 'b'], versionKeys: [key('x')] },
      // 'a' written again by a later transaction.
      { kind: 'dedupe', id: 'a', expiresAt: 40 },
      { kind: 'bucket', id: 'B2', expiresAt: 40, ids: ['a'], versionKeys: [] },
    ]);
    expect(s.counts()).toEqual({ dedupe: 2, version: 0, tombstone: 1 });
    s.apply([{ kind: 'forget-bucket', id: 'B1' }]);
    expect(s.counts()).toEqual({ dedupe: 1, version: 0, tombstone: 0 });
    expect(s.seen('a', 25)).toBe(true);
    s.apply([
      { kind: 'forget-bucket', id: 'B2' },
      { kind: 'forget-bucket', id: 'unknown' },
    ]);
    expect(s.counts()).toEqual({ dedupe: 0, version: 0, tombstone: 0 });
    expect(s.bucketCount).toBe(0);
  });

  it('lists changelog buckets to tombstone once expired, in the order written, bounded', () => {
    const s = new PartitionStore(0);
    const bucket = (id: string, expiresAt: number) => ({
      kind: 'bucket' as const,
      id,
      expiresAt,
      ids: [],
      versionKeys: [],
    });
    s.apply([bucket('b1', 10), bucket('b2', 20), bucket('b3', 30)]);
    expect(s.expiredBuckets(25, 10)).toEqual([
      { kind: 'forget-bucket', id: 'b1' },
      { kind: 'forget-bucket', id: 'b2' },
    ]);
    expect(s.expiredBuckets(100, 1)).toEqual([{ kind: 'forget-bucket', id: 'b1' }]);
    s.apply([{ kind: 'forget-bucket', id: 'b1' }]);
    expect(s.bucketCount).toBe(2);
  });

  it('knows which offsets past the committed one were already handled', () => {
    const s = new PartitionStore(0);
    expect(s.handledAhead('5')).toBe(false);
    s.apply([{ kind: 'progress', progress: { next: '5', through: '10', unprocessed: ['5', '8'] } }]);
    expect(['4', '5', '6', '7', '8', '9', '10'].map((o) => s.handledAhead(o))).toEqual([
      false,
      false,
      true,
      true,
      false,
      true,
      false,
    ]);
    s.apply([{ kind: 'progress', progress: null }]);
    expect(s.handledAhead('6')).toBe(false);
  });
});
