/**
 * Scenario 4, memory.
 *
 * - State bytes per dedupe id: the on-disk PartitionStore holding 1M notification ids (and 200k object
 *   versions), heap and disk, measured in its own process with forced collections (memory/state-bytes.ts).
 * - Soak: the ingress and the processor (real CLI processes) under steady simulator traffic (the load
 *   generator's open-loop mix, as in the end-to-end scenario), 10 minutes at 500/s unless
 *   --soak-minutes/--soak-rate say otherwise; RSS (from /proc), V8 heap used (from each service's
 *   /metrics) and the processor's state on disk (du of its PROCESSOR_STATE_DIR) sampled every 10 s (30 s
 *   in soaks of half an hour or more). The dedupe window is shortened (--soak-window, default 2 minutes)
 *   so the state reaches its steady size within the soak: the store drops a time segment once all of it
 *   has expired, so it holds up to a window and a segment (1 + 1/SEGMENTS_PER_WINDOW windows). After
 *   that plus a minute, any growth of memory or disk is a leak, not state: the slopes are fitted there.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { SEGMENTS_PER_WINDOW } from '../../../processors/state/store';
import { BenchChild } from '../lib/child';
import type { BenchContext } from '../lib/context';
import { PIPELINE_TRAFFIC, startPipelineServices } from '../lib/pipeline-services';
import { diskUsage, rssBytes } from '../lib/proc';
import { counter, scrape } from '../lib/prom';
import { linearFit, round } from '../lib/stats';
import { startTraffic } from '../lib/traffic';
import type { LoadSummary } from '../load/generator';
import type { StateBytesResult } from '../memory/state-bytes';
import { outcomesFrom } from './processor';

export interface MemorySettings {
  dedupeIds: number;
  versions: number;
  soakSeconds: number;
  soakRate: number;
  sampleSeconds: number;
  dedupeWindowSeconds: number;
}

export function memorySettings(
  quick: boolean,
  soak: { seconds?: number; rate?: number; windowMs?: number } = {},
): MemorySettings {
  const base = quick
    ? { dedupeIds: 200_000, versions: 50_000, soakSeconds: 120, soakRate: 300, dedupeWindowSeconds: 20 }
    : { dedupeIds: 1_000_000, versions: 200_000, soakSeconds: 600, soakRate: 500, dedupeWindowSeconds: 120 };
  const soakSeconds = soak.seconds ?? base.soakSeconds;
  return {
    ...base,
    soakSeconds,
    soakRate: soak.rate ?? base.soakRate,
    dedupeWindowSeconds: soak.windowMs !== undefined ? soak.windowMs / 1000 : base.dedupeWindowSeconds,
    sampleSeconds: soakSeconds >= 1800 ? 30 : 10,
  };
}

export interface SoakSample {
  t: number;
  ingressRssMb: number;
  processorRssMb: number;
  ingressHeapMb: number;
  processorHeapMb: number;
  /** The processor's state entries (dedupe ids + object versions + tombstones). */
  processorStateEntries: number;
  processorDedupeIds: number;
  /** Allocated on disk under the processor's PROCESSOR_STATE_DIR, MB. */
  processorDiskMb: number;
}

export interface SoakSeries {
  startMb: number;
  endMb: number;
  maxMb: number;
  /** Least-squares slope after warm-up, MB per minute. */
  slopeMbPerMin: number;
}

export interface MemoryResult {
  settings: MemorySettings;
  state: StateBytesResult;
  soak: {
    samples: SoakSample[];
    warmupSeconds: number;
    ingressRss: SoakSeries;
    processorRss: SoakSeries;
    ingressHeap: SoakSeries;
    processorHeap: SoakSeries;
    processorDisk: SoakSeries;
    load: LoadSummary | undefined;
    /** The processor's notifications by outcome at the end: a soak whose traffic is dead-lettered
     * (BEYOND_WINDOW) never fills its state and proves nothing. */
    outcomes: Record<string, number>;
  };
}

/** One scrape of a service's /metrics, or undefined when it did not answer (sampled as NaN). */
function scrapeOrNothing(url: string): Promise<string | undefined> {
  return scrape(url).catch(() => undefined);
}

function seriesSum(text: string | undefined, name: string, filter = ''): number {
  return text === undefined || !text.includes(name) ? Number.NaN : counter(text, name, filter);
}

function series(samples: SoakSample[], warmup: number, pick: (s: SoakSample) => number): SoakSeries {
  const values = samples.map(pick);
  const fit = linearFit(samples.filter((s) => s.t >= warmup).map((s) => ({ x: s.t / 60, y: pick(s) })));
  return {
    startMb: round(values[0] ?? Number.NaN),
    endMb: round(values[values.length - 1] ?? Number.NaN),
    maxMb: round(Math.max(...values)),
    slopeMbPerMin: round(fit.slope, 2),
  };
}

async function stateBytes(ctx: BenchContext, s: MemorySettings): Promise<StateBytesResult> {
  const child = new BenchChild({
    name: 'state-bytes',
    script: join(ctx.scriptDir, 'memory', 'state-bytes.js'),
    execArgv: ['--expose-gc', '--max-old-space-size=2048'],
    logDir: ctx.logDir,
  });
  ctx.defer('state-bytes', () => child.stop());
  await child.start();
  const result = await child.request<StateBytesResult>({ dedupeIds: s.dedupeIds, versions: s.versions });
  await ctx.release('state-bytes');
  ctx.log(
    `memory: heap ${result.bytesPerDedupeId} bytes per dedupe id (${s.dedupeIds} ids), ${result.bytesPerVersion} bytes per object version; ` +
      `disk ${result.diskBytesPerDedupeId} bytes per dedupe id, ${result.diskBytesPerVersion} per object version (${result.storeDiskMb} MB)`,
  );
  return result;
}

export async function runMemory(ctx: BenchContext): Promise<MemoryResult> {
  const s = memorySettings(ctx.quick, ctx.soak);
  const state = await stateBytes(ctx, s);

  const traffic = await startTraffic(ctx, 'traffic-soak', { grants: 100, seed: 57, ...PIPELINE_TRAFFIC });
  const services = await startPipelineServices(ctx, {
    prefix: 'bench-soak',
    apiUrl: traffic.apiUrl,
    nameSuffix: '-soak',
    processorEnv: { DEDUPE_WINDOW: `${s.dedupeWindowSeconds}s` },
  });
  const { ingress, processor } = services;
  const samples: SoakSample[] = [];
  const started = performance.now();
  let load: LoadSummary | undefined;
  const sending = traffic
    .request<LoadSummary>({
      kind: 'rate',
      url: services.webhookUrl,
      rate: s.soakRate,
      seconds: s.soakSeconds,
      maxSockets: 256,
    })
    .then((l) => {
      load = l;
    });
  let lastLog = 0;
  while (load === undefined && (performance.now() - started) / 1000 < s.soakSeconds * 1.5) {
    const t = (performance.now() - started) / 1000;
    // One scrape per service and sample: heap and state entries come from the same answer.
    const [ingressText, processorText] = await Promise.all([
      scrapeOrNothing(services.ingressMetricsUrl),
      scrapeOrNothing(services.processorMetricsUrl),
    ]);
    const heapName = 'nylas_stream_nodejs_heap_size_used_bytes';
    const ingressHeap = seriesSum(ingressText, heapName);
    const processorHeap = seriesSum(processorText, heapName);
    const entries = seriesSum(processorText, 'nylas_stream_processor_state_entries');
    const dedupeIds = seriesSum(processorText, 'nylas_stream_processor_state_entries', 'kind="dedupe"');
    samples.push({
      t: round(t),
      ingressRssMb: round(rssBytes(ingress.pid ?? -1) / 1048576),
      processorRssMb: round(rssBytes(processor.pid ?? -1) / 1048576),
      ingressHeapMb: round(ingressHeap / 1048576),
      processorHeapMb: round(processorHeap / 1048576),
      processorStateEntries: entries,
      processorDedupeIds: dedupeIds,
      processorDiskMb: round(diskUsage(services.processorStateDir).allocated / 1048576),
    });
    if (t - lastLog >= 60) {
      const last = samples[samples.length - 1] as SoakSample;
      ctx.log(
        `memory: soak ${Math.round(t)} s: ingress rss ${last.ingressRssMb} MB, processor rss ${last.processorRssMb} MB, ` +
          `state entries ${last.processorStateEntries} (dedupe ids ${last.processorDedupeIds}), state disk ${last.processorDiskMb} MB`,
      );
      lastLog = t;
    }
    await Promise.race([sending, new Promise((r) => setTimeout(r, s.sampleSeconds * 1000))]);
  }
  await sending;
  ctx.log(`memory: soak sent ${load?.sent} at ${load?.rps} req/s, non-200 ${load?.non200}`);
  const outcomes = await outcomesFrom(services.processorMetricsUrl).catch(() => ({}));
  ctx.log(`memory: soak processor outcomes ${JSON.stringify(outcomes)}`);
  await ctx.release('traffic-soak');
  await ctx.release('processor-soak');
  rmSync(services.processorStateDir, { recursive: true, force: true });
  await ctx.release('ingress-soak');
  const warmupSeconds = Math.ceil(s.dedupeWindowSeconds * (1 + 1 / SEGMENTS_PER_WINDOW)) + 60;
  return {
    settings: s,
    state,
    soak: {
      samples,
      warmupSeconds,
      ingressRss: series(samples, warmupSeconds, (x) => x.ingressRssMb),
      processorRss: series(samples, warmupSeconds, (x) => x.processorRssMb),
      ingressHeap: series(samples, warmupSeconds, (x) => x.ingressHeapMb),
      processorHeap: series(samples, warmupSeconds, (x) => x.processorHeapMb),
      processorDisk: series(samples, warmupSeconds, (x) => x.processorDiskMb),
      load,
      outcomes,
    },
  };
}
