/**
 * PROCESSOR_HEAP_GROWING_PERCENT reaches V8 as its flag (processors/heap.ts). What the flag does to the
 * processor's memory is measured by the state benchmark (docs/benchmarks.md, "Rounds, not the store"),
 * not here.
 */
import { spawnSync } from 'node:child_process';
import { loadProcessorConfig } from '../../../processors/config';
import { applyHeapGrowing } from '../../../processors/heap';

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
