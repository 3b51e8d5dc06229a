/**
 * The simulator's clocks (simulator/clock.ts): a sleep lasts at least its simulated time by the same
 * clock's now(). Timers can fire a fraction of a millisecond early by performance.now() (why is in
 * clock.ts): on a 60,000× clock most sleeps used to end short, by up to 109 simulated seconds, and the
 * sender's retry-schedule test failed on it in CI (Node 24).
 */
import { realClock, scaledClock } from '../../../simulator/clock';

describe('simulator clock', () => {
  it('a scaled sleep never ends before its simulated time has passed', async () => {
    const clock = scaledClock(60_000);
    const short: Array<{ asked: number; slept: number }> = [];
    for (let i = 0; i < 150; i++) {
      const asked = 30_000 + ((i * 7919) % 600_000);
      const before = clock.now();
      await clock.sleep(asked);
      const slept = clock.now() - before;
      if (slept < asked) short.push({ asked, slept });
    }
    expect(short).toEqual([]);
  });

  it('the real clock too (Date.now)', async () => {
    for (let i = 0; i < 20; i++) {
      const before = realClock.now();
      await realClock.sleep(3);
      expect(realClock.now() - before).toBeGreaterThanOrEqual(3);
    }
  });

  it('an aborted sleep rejects with the signal reason, before or during the wait', async () => {
    const clock = scaledClock(1000);
    const before = new AbortController();
    before.abort(new Error('stopped'));
    await expect(clock.sleep(0, before.signal)).rejects.toThrow('stopped');
    const during = new AbortController();
    const sleeping = clock.sleep(3_600_000, during.signal);
    during.abort(new Error('later'));
    await expect(sleeping).rejects.toThrow('later');
  });
});
