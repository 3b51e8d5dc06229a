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
 * A clock whose simulated time advances `scale` times faster than wall time, starting at
 * `startMs` (default: now). `scaledClock(1)` is the real clock.
 */
export function scaledClock(scale = 1, startMs: number = Date.now()): Clock {
  if (!(scale > 0)) throw new RangeError(`clock scale must be > 0, got ${scale}`);
  const realStart = performance.now();
  return {
    scale,
    now: () => Math.floor(startMs + (performance.now() - realStart) * scale),
    sleep: (ms, signal) => sleepReal(Math.max(0, ms / scale), signal),
    toRealMs: (ms) => Math.max(1, Math.ceil(ms / scale)),
  };
}

export const realClock: Clock = {
  scale: 1,
  now: () => Date.now(),
  sleep: (ms, signal) => sleepReal(Math.max(0, ms), signal),
  toRealMs: (ms) => Math.max(1, Math.ceil(ms)),
};
