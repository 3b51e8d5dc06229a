import { PartitionLanes, progressAfter } from '../../../processors/deferral/index';
import { decodeBatch } from '../../../processors/stages/decode';
import type { ExpandOutcome } from '../../../processors/stages/expand';
import type { Notification, RawRecord } from '../../../processors/types';
import { messageNotification, rawRecord } from '../../helpers/raw-notifications';

function notification(offset: number, messageId: string): Notification {
  const decoded = decodeBatch([
    rawRecord({ grantId: 'g', offset, body: messageNotification('g', { id: `n${offset}`, messageId }) }),
  ]);
  const n = decoded.notifications[0];
  if (!n) throw new Error('fixture did not decode');
  return n;
}

function deferred(lane: string, ...records: RawRecord[]) {
  return records.map((record) => ({ lane, record }));
}

describe('progressAfter (the committed offset and the progress marker)', () => {
  it('says nothing when nothing is set aside and nothing was inherited', () => {
    expect(progressAfter(10n, null, [])).toBeNull();
  });

  it('stops at the first record set aside and lists every one', () => {
    expect(progressAfter(10n, null, [7n, 4n])).toEqual({ next: '4', through: '10', unprocessed: ['4', '7'] });
  });

  it('keeps an inherited marker until the records it covers have been taken', () => {
    const inherited = { next: '3', through: '12', unprocessed: ['3', '9'] };
    // Taken through 5: offset 3 was resubmitted and handled (below taken), 9 is still owed.
    expect(progressAfter(5n, inherited, [])).toEqual({ next: '5', through: '12', unprocessed: ['9'] });
    // Taken past its end: the inherited marker no longer matters.
    expect(progressAfter(12n, inherited, [])).toBeNull();
  });
});

describe('PartitionLanes', () => {
  it('keeps set-aside records in offset order per lane and counts them', () => {
    const lanes = new PartitionLanes();
    const [a, b, c] = [notification(5, 'x'), notification(2, 'x'), notification(3, 'y')];
    if (!a || !b || !c) throw new Error('fixtures');
    lanes.setAside([...deferred('x', a.record), ...deferred('y', c.record)]);
    lanes.setAside(deferred('x', b.record));
    expect(lanes.count).toBe(3);
    expect([...lanes.waiting()].sort()).toEqual(['x', 'y']);
    expect(lanes.resubmit(['x']).map((r) => r.offset)).toEqual(['2', '5']);
    expect(lanes.count).toBe(1);
    expect([...lanes.waiting()]).toEqual(['y']);
  });

  it('makes a lane ready only once every expansion it waits for has settled', async () => {
    const lanes = new PartitionLanes();
    let settle: (o: ExpandOutcome) => void = () => undefined;
    const pending = new Promise<ExpandOutcome>((resolve) => {
      settle = resolve;
    });
    const n = notification(1, 'x');
    lanes.expansions.start(n, () => pending);
    lanes.setAside(deferred('x', n.record));
    let woken = 0;
    lanes.expansions.onSettled(() => woken++);
    expect(lanes.ready()).toEqual([]);
    settle({ kind: 'expanded', object: { id: 'x' } });
    await pending;
    expect(woken).toBe(1);
    expect(lanes.ready()).toEqual(['x']);
    lanes.handled([n.record.offset]);
    expect(lanes.expansions.size).toBe(0);
  });

  it('holds the committed offset at its first set-aside record', () => {
    const lanes = new PartitionLanes();
    lanes.setAside(deferred('x', notification(4, 'x').record));
    expect(lanes.progress(9n, null)).toEqual({ next: '4', through: '9', unprocessed: ['4'] });
    lanes.resubmit(['x']);
    expect(lanes.progress(9n, null)).toBeNull();
  });
});
