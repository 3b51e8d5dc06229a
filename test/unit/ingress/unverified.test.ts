import { UnverifiedBudget } from '../../../ingress/unverified';

describe('UnverifiedBudget', () => {
  it('charges each holder a fixed cost plus its bytes, and releases both', () => {
    const budget = new UnverifiedBudget(10_000, 100);
    const a = budget.hold(() => undefined);
    a.add(400);
    expect(budget.usedBytes).toBe(500);
    expect(budget.holding).toBe(1);
    a.release();
    a.release(); // twice is harmless
    expect(budget.usedBytes).toBe(0);
    expect(budget.holding).toBe(0);
  });

  it('cuts the oldest holders, never the newcomer, until the newcomer fits', () => {
    const budget = new UnverifiedBudget(1000, 100);
    const cut: string[] = [];
    const holds = ['a', 'b', 'c'].map((name) => {
      const h = budget.hold(() => cut.push(name));
      h.add(200);
      return h;
    });
    expect(budget.usedBytes).toBe(900);
    const d = budget.hold(() => cut.push('d'));
    d.add(500); // 1500 > 1000: a (300) and b (300) go, oldest first; c stays
    expect(cut).toEqual(['a', 'b']);
    expect(budget.usedBytes).toBe(900);
    expect(budget.evicted).toBe(2);
    // A cut holder's later bytes and release change nothing.
    holds[0]!.add(5000);
    holds[0]!.release();
    expect(budget.usedBytes).toBe(900);
  });

  it('property-like: whatever the sequence, what is held never exceeds the capacity after an add', () => {
    const budget = new UnverifiedBudget(5000, 64);
    const live: Array<ReturnType<UnverifiedBudget['hold']>> = [];
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 2000; i++) {
      const r = rnd();
      if (r < 0.3 || live.length === 0) live.push(budget.hold(() => undefined));
      else if (r < 0.9) live[Math.floor(rnd() * live.length)]!.add(Math.floor(rnd() * 2000));
      else live.splice(Math.floor(rnd() * live.length), 1)[0]!.release();
      expect(budget.usedBytes).toBeLessThanOrEqual(5000);
    }
  });
});
