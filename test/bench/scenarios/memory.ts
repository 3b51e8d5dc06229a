/**
 * Scenario 4, memory.
 *
 * - State bytes per dedupe id: a PartitionStore holding 1M notification ids (and 200k object versions),
 *   measured in its own process with forced collections (memory/state-bytes.ts).
 * - Soak: the ingress and the processor (real CLI processes) under steady simulator traffic (the load
 *   generator's open-loop mix, as in the end-to-end scenario) for 10 minutes; RSS (from /proc) and V8 heap used (from each service's /metrics) sampled every 5 s. The
 *   dedupe window is shortened to 2 minutes so the state reaches its steady size within the soak: after
 *   that, any growth is a leak, not state. The slope is fitted over the samples after warm-up (window
 *   plus one minute).
 */
import { join } from 'node:path';
import { BenchChild } from '../lib/child';
import { type BenchContext, freePort, startService } from '../lib/context';
import { scenarioTopics, uniqueName } from '../lib/infra';
import { rssBytes } from '../lib/proc';
import { counter, scrape } from '../lib/prom';
import { linearFit, round } from '../lib/stats';
import { startTraffic } from '../lib/traffic';
import type { LoadSummary } from '../load/generator';
import type { StateBytesResult } from '../memory/state-bytes';

export interface MemorySettings {
  dedupeIds: number;
  versions: number;
  soakSeconds: number;
  soakRate: number;
  sampleSeconds: number;
  dedupeWindowSeconds: number;
}

export function memorySettings(quick: boolean): MemorySettings {
  return quick
    ? {
        dedupeIds: 200_000,
        versions: 50_000,
        soakSeconds: 120,
        soakRate: 300,
        sampleSeconds: 3,
        dedupeWindowSeconds: 20,
      }
    : {
        dedupeIds: 1_000_000,
        versions: 200_000,
        soakSeconds: 600,
        soakRate: 500,
        sampleSeconds: 5,
        dedupeWindowSeconds: 120,
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
    load: LoadSummary | undefined;
  };
}

const SECRET = 'bench-webhook-secret';
const API_KEY = 'bench-api-key';

async function metricValue(url: string, name: string): Promise<number> {
  const text = await (await fetch(url, { signal: AbortSignal.timeout(2000) })).text();
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
      found = true;
    }
  }
  return found ? sum : Number.NaN;
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
    `memory: ${result.bytesPerDedupeId} bytes per dedupe id (${s.dedupeIds} ids), ${result.bytesPerVersion} bytes per object version`,
  );
  return result;
}

export async function runMemory(ctx: BenchContext): Promise<MemoryResult> {
  const s = memorySettings(ctx.quick);
  const state = await stateBytes(ctx, s);

  const topicEnv = await scenarioTopics(ctx.infra, 'bench-soak', 12);
  const common = { ...ctx.infra.env, ...topicEnv, LOG_LEVEL: 'warn' };
  const ingressPort = await freePort();
  const apiPort = await freePort();
  const metricsPort = await freePort();
  const ingress = await startService(ctx, 'ingress', {
    name: 'ingress-soak',
    args: ['ingress'],
    env: {
      ...common,
      INGRESS_PORT: String(ingressPort),
      INGRESS_HOST: '127.0.0.1',
      NYLAS_WEBHOOK_SECRETS: SECRET,
    },
    readyUrl: `http://127.0.0.1:${ingressPort}/readyz`,
  });
  const processor = await startService(ctx, 'processor', {
    name: 'processor-soak',
    args: ['processor'],
    env: {
      ...common,
      PROCESSOR_GROUP_ID: uniqueName('bench-soak-processor'),
      PROCESSOR_METRICS_PORT: String(metricsPort),
      NYLAS_API_KEY: API_KEY,
      NYLAS_API_URI: `http://127.0.0.1:${apiPort}`,
      DEDUPE_WINDOW: `${s.dedupeWindowSeconds}s`,
    },
    readyUrl: `http://127.0.0.1:${metricsPort}/readyz`,
    readyTimeoutMs: 120_000,
  });
  const traffic = await startTraffic(ctx, 'traffic-soak', {
    grants: 100,
    seed: 57,
    secret: SECRET,
    apiPort,
    apiKey: API_KEY,
  });
  const samples: SoakSample[] = [];
  const started = performance.now();
  const ingressMetrics = `http://127.0.0.1:${ingressPort}/metrics`;
  const processorMetrics = `http://127.0.0.1:${metricsPort}/metrics`;
  let load: LoadSummary | undefined;
  const sending = traffic
    .request<LoadSummary>({
      kind: 'rate',
      url: `http://127.0.0.1:${ingressPort}/webhooks/nylas`,
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
    const heap = (url: string) =>
      metricValue(url, 'nylas_stream_nodejs_heap_size_used_bytes').catch(() => Number.NaN);
    const [ingressHeap, processorHeap, entries] = await Promise.all([
      heap(ingressMetrics),
      heap(processorMetrics),
      metricValue(processorMetrics, 'nylas_stream_processor_state_entries').catch(() => Number.NaN),
    ]);
    const dedupeIds = await scrape(processorMetrics)
      .then((t) => counter(t, 'nylas_stream_processor_state_entries', 'kind="dedupe"'))
      .catch(() => Number.NaN);
    samples.push({
      t: round(t),
      ingressRssMb: round(rssBytes(ingress.pid ?? -1) / 1048576),
      processorRssMb: round(rssBytes(processor.pid ?? -1) / 1048576),
      ingressHeapMb: round(ingressHeap / 1048576),
      processorHeapMb: round(processorHeap / 1048576),
      processorStateEntries: entries,
      processorDedupeIds: dedupeIds,
    });
    if (t - lastLog >= 60) {
      const last = samples[samples.length - 1] as SoakSample;
      ctx.log(
        `memory: soak ${Math.round(t)} s: ingress rss ${last.ingressRssMb} MB, processor rss ${last.processorRssMb} MB, ` +
          `state entries ${last.processorStateEntries} (dedupe ids ${last.processorDedupeIds})`,
      );
      lastLog = t;
    }
    await Promise.race([sending, new Promise((r) => setTimeout(r, s.sampleSeconds * 1000))]);
  }
  await sending;
  ctx.log(`memory: soak sent ${load?.sent} at ${load?.rps} req/s, non-200 ${load?.non200}`);
  await ctx.release('traffic-soak');
  await ctx.release('processor-soak');
  await ctx.release('ingress-soak');
  const warmupSeconds = s.dedupeWindowSeconds + 60;
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
      load,
    },
  };
}
