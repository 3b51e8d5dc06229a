/**
 * The read_committed filter (lib/kafkajs/read-committed.ts) against kafkajs's own, on fetch answers laid
 * out as the broker sends them: aborted transactions listed in the order they ended, several begun before
 * the fetch's first record. kafkajs's filter is run too, to show what it gets wrong.
 */
import { type FetchedRecord, hideAbortedRecords } from '../../../../lib/kafkajs/read-committed';

type Filter = (o: { messages: FetchedRecord[]; abortedTransactions: unknown[] }) => FetchedRecord[];
// eslint-disable-next-line @typescript-eslint/no-require-imports
const kafkajsFilter = require('kafkajs/src/consumer/filterAbortedMessages') as Filter;

const ABORT = Buffer.from([0, 0, 0, 0]);
const COMMIT = Buffer.from([0, 0, 0, 1]);

/** A record of `producer` at `offset`, or its transaction's marker. */
function rec(offset: number, producer: string, marker?: Buffer): FetchedRecord {
  return {
    offset: String(offset),
    key: marker ?? Buffer.from(`k${offset}`),
    isControlRecord: marker !== undefined,
    batchContext: { producerId: producer, inTransaction: true },
  };
}

/** What a consumer sees: kafkajs drops control records (and, after our filter, the hidden ones). */
const visible = (records: FetchedRecord[]) =>
  records.filter((r) => !r.isControlRecord).map((r) => `${r.offset}${r.batchContext?.producerId}`);

function both(records: () => FetchedRecord[], aborted: Array<[string, number]>) {
  const list = () => aborted.map(([producerId, first]) => ({ producerId, firstOffset: String(first) }));
  const theirs = visible(kafkajsFilter({ messages: records(), abortedTransactions: list() }));
  const partition = { messages: records(), abortedTransactions: list() };
  const hidden = hideAbortedRecords(partition);
  return { theirs, ours: visible(partition.messages), hidden, listLeft: partition.abortedTransactions };
}

describe('read_committed: aborted records hidden (lib/kafkajs/read-committed.ts)', () => {
  it('transactions listed in the order they ended, not begun: the earlier-begun one is hidden too', () => {
    // B begins at 0, A at 1; A aborts at 5, B at 7; C commits in between. The broker lists [A, B].
    const records = () => [
      rec(0, 'B'),
      rec(1, 'A'),
      rec(2, 'C'),
      rec(3, 'A'),
      rec(4, 'C', COMMIT),
      rec(5, 'A', ABORT),
      rec(6, 'B'),
      rec(7, 'B', ABORT),
      rec(8, 'A'),
      rec(9, 'A', COMMIT),
    ];
    const r = both(records, [
      ['A', 1],
      ['B', 0],
    ]);
    expect(r.ours).toEqual(['2C', '8A']);
    expect(r.hidden).toBe(4);
    expect(r.listLeft).toEqual([]);
    // kafkajs delivers B's aborted record at offset 0.
    expect(r.theirs).toContain('0B');
  });

  it('two transactions begun before the fetch: both hidden from its first record on', () => {
    // The fetch starts at 10; A began at 3, B at 5, both abort inside the answer (A first: the list is
    // in begin order too). kafkajs opens one transaction per record read: B's is still closed at 10.
    const records = () => [
      rec(10, 'B'),
      rec(11, 'A'),
      rec(12, 'A', ABORT),
      rec(13, 'B', ABORT),
      rec(14, 'C'),
    ];
    const r = both(records, [
      ['A', 3],
      ['B', 5],
    ]);
    expect(r.ours).toEqual(['14C']);
    expect(r.theirs).toContain('10B');
  });

  it('a producer that aborts, then commits: the committed transaction stays visible', () => {
    const records = () => [rec(0, 'A'), rec(1, 'A', ABORT), rec(2, 'A'), rec(3, 'A', COMMIT)];
    expect(both(records, [['A', 0]]).ours).toEqual(['2A']);
  });

  it('records outside transactions, and answers without aborted transactions, are left alone', () => {
    const plain = { ...rec(0, 'A'), batchContext: { producerId: 'A', inTransaction: false } };
    const partition = {
      messages: [plain, rec(1, 'B')],
      abortedTransactions: [{ producerId: 'A', firstOffset: '0' }],
    };
    expect(hideAbortedRecords(partition)).toBe(0);
    expect(hideAbortedRecords({ messages: [rec(0, 'A')] })).toBe(0);
  });
});
