/**
 * Simulated time. Nylas's delivery rules are written in minutes and hours (the last retry comes 10–20
 * minutes after the first, §2.3; `failing` after 15 minutes, `failed` after 72 hours, §2.4), so every
 * part of the simulator reads time and waits through a Clock. A scaled clock runs simulated time
 * `scale` times faster than wall time: with scale 60 000 a 15-minute retry delay takes 15 ms.
 */

export interface Clock {
  /** Simulated epoch milliseconds. */
  now(): number;
  /** Resolves after `ms` of simulated time (rejects with the signal's reason when aborted). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** How many wall-clock milliseconds `ms` of simulated time take (used for socket timeouts). */
  toRealMs(ms: number): number;
  /** Simulated milliseconds per wall-clock millisecond (1 for the real clock). */
  readonly scale: number;
}

function sleepReal(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Sleeps until `now()` has advanced by `ms`. A timer alone is not enough: a timer can fire a fraction of
 * a millisecond before `performance.now()` says it is due (most likely because libuv times timers by its
 * loop time, cached per iteration in whole milliseconds; the symptom was measured, the cause not
 * traced). On a scaled clock that is up to `scale` simulated milliseconds early (60 s at 60 000):
 * measured, 220 of 300 sleeps of a 60 000× clock ended short, by up to 109 simulated seconds, and the sender's schedule test failed on it once (last
 * attempt 986,818 ms after the first against 990,000 planned). So the remainder is slept again.
 */
async function sleepFor(now: () => number, scale: number, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) throw signal.reason;
  const until = now() + Math.max(0, ms);
  for (let left = until - now(); left > 0; left = until - now()) {
    await sleepReal(left / scale, signal);
  }
}

/**
 * A clock whose simulated time advances `scale` times faster than wall time, starting at
 * `startMs` (default: now). `scaledClock(1)` is the real clock.
 */
export function scaledClock(scale = 1, startMs: number = Date.now()): Clock {
  if (!(scale > 0)) throw new RangeError(`clock scale must be > 0, got ${scale}`);
  const realStart = performance.now();
  const now = () => Math.floor(startMs + (performance.now() - realStart) * scale);
  return {
    scale,
    now,
    sleep: (ms, signal) => sleepFor(now, scale, ms, signal),
    toRealMs: (ms) => Math.max(1, Math.ceil(ms / scale)),
  };
}

export const realClock: Clock = {
  scale: 1,
  now: () => Date.now(),
  sleep: (ms, signal) => sleepFor(Date.now, 1, ms, signal),
  toRealMs: (ms) => Math.max(1, Math.ceil(ms)),
};
