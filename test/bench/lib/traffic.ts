/**
 * Simulator traffic for the end-to-end and soak scenarios: the load generator process builds the
 * simulator's realistic mix as it sends (every family, variants, duplicates from the world's own
 * changes) and serves the simulated Nylas API for the same world on a known port, so the processor can
 * expand truncated messages. Sending is open loop at a fixed rate (see load/generator.ts).
 */
import { join } from 'node:path';
import type { MixOptions } from '../load/payloads';
import { BenchChild } from './child';
import type { BenchContext } from './context';

export async function startTraffic(
  ctx: BenchContext,
  name: string,
  mix: Omit<MixOptions, 'largeMessages'>,
): Promise<BenchChild> {
  const generator = new BenchChild({
    name,
    script: join(ctx.scriptDir, 'load', 'generator.js'),
    // Long soaks keep every world object; give the generator room.
    execArgv: ['--max-old-space-size=2048'],
    logDir: ctx.logDir,
  });
  ctx.defer(name, () => generator.stop());
  await generator.start();
  await generator.request({ kind: 'prepare-mix', mix: { ...mix, largeMessages: ctx.largeMessages } });
  return generator;
}
