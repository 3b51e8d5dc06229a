/**
 * Simulator traffic for the end-to-end and soak scenarios: the load generator process builds the
 * simulator's realistic mix as it sends (every family, variants, duplicates from the world's own
 * changes) and serves the simulated Nylas API for the same world, so the processor can expand truncated
 * messages. The API listens on a port of its own choosing (apiPort 0) before the processor starts: a port
 * picked in advance and bound later was once taken meanwhile (EADDRINUSE). Sending is open loop at a
 * fixed rate (see load/generator.ts).
 */
import { join } from 'node:path';
import type { MixOptions } from '../load/payloads';
import { BenchChild } from './child';
import type { BenchContext } from './context';

export async function startTraffic(
  ctx: BenchContext,
  name: string,
  mix: Omit<MixOptions, 'largeMessages'>,
): Promise<BenchChild & { apiUrl: string }> {
  const generator = new BenchChild({
    name,
    script: join(ctx.scriptDir, 'load', 'generator.js'),
    // Long soaks keep every world object (the world is the oracle): the hour at 500/s (1.8 M
    // notifications) ran out of a 2 GiB heap after 20 minutes (2026-12-06), so give it room.
    execArgv: ['--max-old-space-size=6144'],
    logDir: ctx.logDir,
  });
  ctx.defer(name, () => generator.stop());
  await generator.start();
  const { api } = await generator.request<{ api: string }>({
    kind: 'prepare-mix',
    mix: { ...mix, largeMessages: ctx.largeMessages },
  });
  return Object.assign(generator, { apiUrl: api });
}
