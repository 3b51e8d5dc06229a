/**
 * PROCESSOR_HEAP_GROWING_PERCENT reaches V8 as its flag, and PROCESSOR_IDLE_MEMORY_RELEASE asks V8 for
 * one memory-reducing collection per quiet spell (processors/heap.ts). What they do to the processor's
 * memory over a drain is measured by the state benchmark (docs/benchmarks.md), not here; that the
 * collection gives memory back is checked in a child process.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { silentLogger } from '../../../lib/logger';
import { SERVICE_NODE_FLAGS } from '../../../lib/service-runtime';
import { loadProcessorConfig } from '../../../processors/config';
import { applyHeapGrowing, applyOptimizeForSize, IdleMemoryRelease } from '../../../processors/heap';

/** What loadProcessorConfig requires; the rest has defaults. */
const BASE_ENV = { NYLAS_API_KEY: 'k' };

describe('heap growing factor', () => {
  it('defaults to 100 and sets --heap-growing-percent=100', () => {
    const config = loadProcessorConfig(BASE_ENV);
    expect(config.heapGrowingPercent).toBe(100);
    const set: string[] = [];
    expect(applyHeapGrowing(config.heapGrowingPercent, (f) => set.push(f))).toBe(
      '--heap-growing-percent=100',
    );
    expect(set).toEqual(['--heap-growing-percent=100']);
  });

  it('0 leaves V8 its own factor', () => {
    const config = loadProcessorConfig({ ...BASE_ENV, PROCESSOR_HEAP_GROWING_PERCENT: '0' });
    const set: string[] = [];
    expect(applyHeapGrowing(config.heapGrowingPercent, (f) => set.push(f))).toBeUndefined();
    expect(set).toEqual([]);
  });

  it('refuses a value V8 would not take as meant', () => {
    expect(() => loadProcessorConfig({ ...BASE_ENV, PROCESSOR_HEAP_GROWING_PERCENT: '-5' })).toThrow(
      /PROCESSOR_HEAP_GROWING_PERCENT/,
    );
    expect(() => loadProcessorConfig({ ...BASE_ENV, PROCESSOR_HEAP_GROWING_PERCENT: '1.5' })).toThrow(
      /PROCESSOR_HEAP_GROWING_PERCENT/,
    );
  });

  it('names a flag this Node has (setFlagsFromString ignores an unknown one silently)', () => {
    // V8 lists its flags' values at start-up with --print-flag-values; the name must be among them.
    const flag = applyHeapGrowing(100, () => undefined) ?? '';
    const child = spawnSync(process.execPath, [flag, '--print-flag-values', '-e', '0'], { encoding: 'utf8' });
    expect(child.status).toBe(0);
    expect(child.stdout.split('\n')).toContain(flag);
  });
});

describe('optimize for size', () => {
  it('is off by default and sets nothing', () => {
    const config = loadProcessorConfig(BASE_ENV);
    expect(config.optimizeForSize).toBe(false);
    const set: string[] = [];
    expect(applyOptimizeForSize(config.optimizeForSize, (f) => set.push(f))).toBeUndefined();
    expect(set).toEqual([]);
  });

  it('PROCESSOR_OPTIMIZE_FOR_SIZE=true sets --optimize-for-size, a flag this Node has', () => {
    const config = loadProcessorConfig({ ...BASE_ENV, PROCESSOR_OPTIMIZE_FOR_SIZE: 'true' });
    const set: string[] = [];
    const flag = applyOptimizeForSize(config.optimizeForSize, (f) => set.push(f)) ?? '';
    expect(set).toEqual(['--optimize-for-size']);
    const child = spawnSync(process.execPath, [flag, '--print-flag-values', '-e', '0'], { encoding: 'utf8' });
    expect(child.status).toBe(0);
    expect(child.stdout.split('\n')).toContain(flag);
  });
});

describe('idle memory release', () => {
  function release(idleMs = 10_000) {
    let now = 0;
    let activity = 0;
    const collections: number[] = [];
    const r = new IdleMemoryRelease({
      activity: () => activity,
      idleMs,
      log: silentLogger(),
      collect: () => collections.push(now),
      clock: () => now,
    });
    return {
      r,
      collections,
      work: () => {
        activity++;
      },
      at: async (ms: number) => {
        now = ms;
        await r.check();
      },
    };
  }

  it('defaults to 10 s and reads durations; 0 turns it off', () => {
    expect(loadProcessorConfig(BASE_ENV).idleMemoryReleaseMs).toBe(10_000);
    expect(
      loadProcessorConfig({ ...BASE_ENV, PROCESSOR_IDLE_MEMORY_RELEASE: '30s' }).idleMemoryReleaseMs,
    ).toBe(30_000);
    expect(loadProcessorConfig({ ...BASE_ENV, PROCESSOR_IDLE_MEMORY_RELEASE: '0' }).idleMemoryReleaseMs).toBe(
      0,
    );
  });

  it('does nothing for a processor that has handled nothing', async () => {
    const t = release();
    for (let ms = 0; ms <= 60_000; ms += 2_500) await t.at(ms);
    expect(t.collections).toEqual([]);
  });

  it('collects once the processor has been quiet for the idle time after work, and once per quiet spell', async () => {
    const t = release();
    t.work();
    await t.at(1_000); // work seen: quiet from here
    await t.at(10_999);
    expect(t.collections).toEqual([]);
    await t.at(11_000);
    expect(t.collections).toEqual([11_000]);
    for (let ms = 12_000; ms <= 60_000; ms += 2_500) await t.at(ms);
    expect(t.collections).toEqual([11_000]);
    t.work();
    await t.at(61_000);
    await t.at(71_000);
    expect(t.collections).toEqual([11_000, 71_000]);
  });

  it('never collects while records keep coming', async () => {
    const t = release();
    for (let ms = 0; ms <= 120_000; ms += 2_500) {
      t.work();
      await t.at(ms);
    }
    expect(t.collections).toEqual([]);
  });

  it('is off at 0: start() schedules nothing', () => {
    jest.useFakeTimers();
    try {
      const t = release(0);
      t.r.start();
      t.work();
      jest.advanceTimersByTime(120_000);
      expect(t.collections).toEqual([]);
      t.r.stop();
    } finally {
      jest.useRealTimers();
    }
  });

  it("gives back the heap pages a burst left behind (V8's pool on Node 24)", () => {
    // A burst of 300 MB of short-lived objects, then one memory-reducing collection, in a fresh process
    // started with the services' flags: its RSS must fall by most of what the burst added.
    const script = [
      "const { memoryReducingCollection } = require('./processors/heap');",
      'const base = process.memoryUsage.rss();',
      'let keep = [];',
      "for (let i = 0; i < 3e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 1e6) keep = []; }",
      'keep = undefined;',
      'const before = process.memoryUsage.rss();',
      'memoryReducingCollection();',
      // V8 unmaps freed pages on a background thread: read the RSS once it has had time to.
      'setTimeout(() => {',
      '  const after = process.memoryUsage.rss();',
      '  process.stdout.write(JSON.stringify({ base, before, after }));',
      '}, 1000);',
    ].join('\n');
    const root = join(__dirname, '..', '..', '..');
    const child = spawnSync(
      process.execPath,
      [...SERVICE_NODE_FLAGS, '--require', join(root, 'test', 'helpers', 'ts-require.js'), '-e', script],
      { cwd: root, encoding: 'utf8' },
    );
    expect(child.stderr).toBe('');
    const { base, before, after } = JSON.parse(child.stdout) as {
      base: number;
      before: number;
      after: number;
    };
    const mb = (b: number) => Math.round(b / 1048576);
    // The burst must have added memory for the check to mean anything.
    expect(mb(before - base)).toBeGreaterThan(100);
    expect(mb(before - after)).toBeGreaterThan(mb(before - base) / 2);
  });
});
