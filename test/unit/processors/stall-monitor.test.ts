import { type PartitionOffsets, StallMonitor } from '../../../processors/stall-monitor';

const at = (committed: number, high: number, low = 0): PartitionOffsets => ({
  committed: BigInt(committed),
  low: BigInt(low),
  high: BigInt(high),
});

describe('StallMonitor', () => {
  it('says how long a partition has not advanced while records wait', () => {
    const m = new StallMonitor();
    expect(m.sample(new Map([[6, at(10, 14)]]), 1_000).get(6)).toEqual({ lag: 4, stalledSeconds: 0 });
    expect(m.sample(new Map([[6, at(10, 14)]]), 31_000).get(6)).toEqual({ lag: 4, stalledSeconds: 30 });
    expect(m.sample(new Map([[6, at(10, 20)]]), 61_000).get(6)).toEqual({ lag: 10, stalledSeconds: 60 });
    // It moves: the stall ends, even though records still wait.
    expect(m.sample(new Map([[6, at(12, 20)]]), 71_000).get(6)).toEqual({ lag: 8, stalledSeconds: 0 });
  });

  it('is not stalled when caught up, however long nothing arrives', () => {
    const m = new StallMonitor();
    m.sample(new Map([[0, at(5, 5)]]), 0);
    expect(m.sample(new Map([[0, at(5, 5)]]), 3_600_000).get(0)).toEqual({ lag: 0, stalledSeconds: 0 });
  });

  it('measures a partition without a committed offset from the log start (the reset policy)', () => {
    const m = new StallMonitor();
    m.sample(new Map([[1, at(-1, 7, 3)]]), 0);
    expect(m.sample(new Map([[1, at(-1, 7, 3)]]), 10_000).get(1)).toEqual({ lag: 4, stalledSeconds: 10 });
  });

  it('forgets partitions no longer sampled', () => {
    const m = new StallMonitor();
    m.sample(new Map([[2, at(0, 3)]]), 0);
    m.sample(new Map(), 5_000);
    expect(m.sample(new Map([[2, at(0, 3)]]), 10_000).get(2)).toEqual({ lag: 3, stalledSeconds: 0 });
  });
});
