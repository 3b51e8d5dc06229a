/**
 * The segments' membership filters (processors/state/segment-filter.ts): never "absent" for a key that was
 * added (that would lose a dedupe id or a version), few "maybe" for keys that were not, and memory only from
 * the budget, given back when a filter is given up or released.
 */
import { stateKeyHash } from '../../../../processors/state/keys';
import { FilterBudget, SegmentFilter } from '../../../../processors/state/segment-filter';

const key = (i: number) => stateKeyHash(`id-${i}`);

describe('SegmentFilter', () => {
  it('answers "maybe" for every key added, through several stages, and rarely for others', () => {
    const budget = new FilterBudget(64 * 1024 * 1024);
    const f = new SegmentFilter(budget);
    const added = 100_000;
    for (let i = 0; i < added; i++) f.add(key(i));
    for (let i = 0; i < added; i++) expect(f.mayHold(key(i))).toBe(true);
    let maybe = 0;
    const others = 100_000;
    for (let i = added; i < added + others; i++) if (f.mayHold(key(i))) maybe++;
    // Three stages (6,553 + 26,214 + 104,857 entries), each about 1 % when full: under 3 % together.
    expect(maybe / others).toBeLessThan(0.03);
    expect(f.bytes).toBe(8192 + 32768 + 131072);
    expect(budget.usedBytes).toBe(f.bytes);
  });

  it('an empty filter holds nothing', () => {
    const f = new SegmentFilter(new FilterBudget(1024 * 1024));
    expect(f.mayHold(key(1))).toBe(false);
    expect(f.bytes).toBe(0);
  });

  it('is given up when the budget cannot give its next stage: its memory goes back and every key may be there', () => {
    const budget = new FilterBudget(8192);
    const f = new SegmentFilter(budget);
    for (let i = 0; i < 6553; i++) f.add(key(i));
    expect(f.given).toBe(false);
    expect(budget.usedBytes).toBe(8192);
    expect(f.mayHold(key(1_000_000))).toBe(false);
    f.add(key(6553));
    expect(f.given).toBe(true);
    expect(budget.usedBytes).toBe(0);
    expect(f.mayHold(key(1_000_000))).toBe(true);
    expect(f.mayHold(key(6553))).toBe(true);
  });

  it('takes nothing from a budget of 0 and answers "maybe" for everything', () => {
    const budget = new FilterBudget(0);
    const f = new SegmentFilter(budget);
    f.add(key(1));
    expect(f.mayHold(key(2))).toBe(true);
    expect(budget.usedBytes).toBe(0);
  });

  it('release gives its memory back to the budget other filters share', () => {
    const budget = new FilterBudget(16384);
    const a = new SegmentFilter(budget);
    const b = new SegmentFilter(budget);
    a.add(key(1));
    b.add(key(2));
    expect(budget.usedBytes).toBe(16384);
    const c = new SegmentFilter(budget);
    c.add(key(3));
    expect(c.given).toBe(true);
    a.release();
    expect(budget.usedBytes).toBe(8192);
    const d = new SegmentFilter(budget);
    d.add(key(4));
    expect(d.given).toBe(false);
    expect(d.mayHold(key(4))).toBe(true);
  });
});
