import { HotCache } from '../../../../processors/state/hot-cache';

describe('HotCache', () => {
  it('answers the latest value of a key, and nothing with no capacity', () => {
    const c = new HotCache<number>(4);
    c.set('a', 1);
    c.set('a', 2);
    expect(c.get('a')).toBe(2);
    expect(c.get('b')).toBeUndefined();
    const none = new HotCache<number>(0);
    none.set('a', 1);
    expect(none.get('a')).toBeUndefined();
    expect(none.size).toBe(0);
  });

  it('never holds more than its capacity, however many keys go through it', () => {
    const c = new HotCache<number>(100);
    for (let i = 0; i < 10_000; i++) {
      c.set(`k${i}`, i);
      expect(c.size).toBeLessThanOrEqual(100);
    }
    // The newest half is certainly there; the oldest keys are gone.
    for (let i = 9_950; i < 10_000; i++) expect(c.get(`k${i}`)).toBe(i);
    expect(c.get('k0')).toBeUndefined();
  });

  it('keeps what is used: a key read in every generation outlives keys written once', () => {
    const c = new HotCache<number>(10);
    c.set('hot', 0);
    for (let i = 0; i < 1000; i++) {
      c.set(`cold${i}`, i);
      expect(c.get('hot')).toBe(0);
    }
    expect(c.get('cold0')).toBeUndefined();
  });

  it('an old copy never answers once the key was written again', () => {
    const c = new HotCache<number>(4);
    c.set('k', 1);
    c.set('x', 0);
    // 'k' = 1 is in the old generation now; a new value goes to the young one.
    c.set('y', 0);
    c.set('k', 2);
    for (let i = 0; i < 3; i++) {
      expect(c.get('k')).toBe(2);
      c.set(`z${i}`, i);
    }
  });

  it('clear forgets everything', () => {
    const c = new HotCache<number>(4);
    c.set('a', 1);
    c.clear();
    expect(c.get('a')).toBeUndefined();
    expect(c.size).toBe(0);
  });
});
