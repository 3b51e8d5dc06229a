import {
  applyChangelogRecord,
  changeFromRecord,
  changelogMessages,
  statePartitionFor,
} from '../../../../processors/state/changelog';
import { PartitionStore, type StateChange } from '../../../../processors/state/store';

const key = { grantId: 'g:1', objectType: 'message', objectId: 'm"1' };

const changes: StateChange[] = [
  { kind: 'dedupe', id: 'n1', expiresAt: 123 },
  {
    kind: 'version',
    key,
    entry: { version: 1_723_821_985_000n, offset: '42', deleted: true },
    expiresAt: 456,
  },
  { kind: 'progress', progress: { next: '10', through: '20', unprocessed: ['10', '15'] } },
  { kind: 'progress', progress: null },
  { kind: 'forget-dedupe', id: 'n1' },
  { kind: 'forget-version', key },
];

describe('state changelog', () => {
  it('writes one record per change to the partition state partition, keyed per input partition and entry', () => {
    const msgs = changelogMessages(7, 3, changes);
    expect(msgs.map((m) => m.partition)).toEqual([3, 3, 3, 3, 3, 3]);
    expect(msgs.map((m) => m.key)).toEqual([
      '[7,"d","n1"]',
      '[7,"v","g:1","message","m\\"1"]',
      '[7,"p"]',
      '[7,"p"]',
      '[7,"d","n1"]',
      '[7,"v","g:1","message","m\\"1"]',
    ]);
    // Forgetting is a Kafka tombstone, so compaction removes the entry.
    expect(msgs.slice(3).map((m) => m.value)).toEqual([null, null, null]);
  });

  it('reads every change back (restore), and ignores other partitions and garbage', () => {
    const msgs = changelogMessages(7, 3, changes);
    const back = msgs.map((m) =>
      changeFromRecord(
        7,
        Buffer.from(m.key as string),
        m.value === null ? null : Buffer.from(m.value as string),
      ),
    );
    expect(back).toEqual(changes);
    const m0 = msgs[0];
    expect(
      changeFromRecord(8, Buffer.from(m0?.key as string), Buffer.from(m0?.value as string)),
    ).toBeUndefined();
    expect(changeFromRecord(7, Buffer.from('nope'), null)).toBeUndefined();
    expect(changeFromRecord(7, null, null)).toBeUndefined();
    expect(changeFromRecord(7, Buffer.from('[7,"d","x"]'), Buffer.from('{bad'))).toBeUndefined();
  });

  it('restoring the records in order rebuilds the store; the last write wins as after compaction', () => {
    const store = new PartitionStore(7);
    const writes: StateChange[] = [
      { kind: 'dedupe', id: 'a', expiresAt: 100 },
      { kind: 'version', key, entry: { version: 1n, offset: '1', deleted: false }, expiresAt: 100 },
      { kind: 'version', key, entry: { version: 2n, offset: '2', deleted: true }, expiresAt: 100 },
      { kind: 'dedupe', id: 'b', expiresAt: 100 },
      { kind: 'forget-dedupe', id: 'b' },
    ];
    for (const m of changelogMessages(7, 0, writes)) {
      applyChangelogRecord(
        store,
        Buffer.from(m.key as string),
        m.value === null ? null : Buffer.from(m.value as string),
      );
    }
    expect(store.seen('a', 0)).toBe(true);
    expect(store.seen('b', 0)).toBe(false);
    expect(store.version(JSON.stringify(['g:1', 'message', 'm"1']), 0)).toEqual({
      version: 2n,
      offset: '2',
      deleted: true,
    });
  });

  it('maps input partitions onto the state topic', () => {
    expect(statePartitionFor(5, 12)).toBe(5);
    expect(statePartitionFor(13, 12)).toBe(1);
  });
});
