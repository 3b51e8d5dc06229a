/**
 * Scenario 2, processor: 200,000 raw notifications preloaded (realistic mix, 5 % duplicates, some
 * reordering), then consumed from the beginning by (1) the full processor (the real CLI in a child
 * process: decode → dedupe → order → expand → normalize → Avro, exactly-once transactions per
 * partition) and (2) a kafkajs transactional passthrough, alternately, each with a fresh consumer group
 * (and, for the processor, a fresh state topic). Throughput is records committed per second while the
 * group makes progress: from the first poll that sees a commit to the poll that sees none left, so
 * start-up (group join, fencing, state restore) is reported separately and not counted.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createWorld, startNylasApi } from '../../../simulator';
import { BenchChild } from '../lib/child';
import { type BenchContext, freePort, newStateDir, startService } from '../lib/context';
import { createTopic, groupLag, scenarioTopics, uniqueName } from '../lib/infra';
import { type ProcessUsage, UsageSampler } from '../lib/proc';
import { median, round } from '../lib/stats';
import { type PreloadResult, preloadRaw } from '../load/preload';

export interface ProcessorSettings {
  count: number;
  reps: number;
  grants: number;
  duplicateRate: number;
  reorderRate: number;
  partitions: number;
  timeoutMs: number;
  /** Keep the simulator's >1 MB messages (delivered `.truncated`, expanded through the simulated API). */
  largeMessages: boolean;
}

/** Simulated time the preloaded traffic spans, well inside ACCEPT_WINDOW (80 h by default). */
const TRAFFIC_SPAN_S = 36 * 3600;

export function processorSettings(
  quick: boolean,
  largeMessages: boolean,
  records?: number,
): ProcessorSettings {
  return {
    count: records ?? (quick ? 20_000 : 200_000),
    reps: quick ? 1 : 3,
    grants: 200,
    duplicateRate: 0.05,
    reorderRate: 0.02,
    partitions: 12,
    timeoutMs: quick ? 180_000 : 900_000,
    largeMessages,
  };
}

export interface DrainRun {
  rep: number;
  /** Records committed per second while progressing. */
  eventsPerSecond: number;
  /** From the process start to its first visible commit. */
  startupSeconds: number;
  drainSeconds: number;
  /** Seconds into the drain at which 50 %, 90 % and 99 % of the records were committed (100 %:
   * drainSeconds): a long tail (one slow partition, a pending expansion) shows here, not in the rate. */
  committedAt: { p50: number; p90: number; p99: number };
  usage: ProcessUsage;
  brokerCpuCores: number;
  /** Processor only: notifications by outcome, from its /metrics. */
  outcomes?: Record<string, number>;
  /** Processor only: notifications with an outcome (emitted, duplicate, stale, dead-lettered); anything
   * short of the preloaded count means records were committed past without being handled. */
  accounted?: number;
}

/** One pipeline's runs and their medians. */
export interface DrainSummary {
  runs: DrainRun[];
  medianEventsPerSecond: number;
  medianCpuCores: number;
  medianRssPeakMb: number;
}

export interface ProcessorResult {
  settings: ProcessorSettings;
  preload: PreloadResult;
  processor: DrainSummary;
  /** The target's baseline: the passthrough on stock kafkajs. */
  passthrough: DrainSummary;
  /** The same passthrough on the processor's own kafkajs client (with the lib/kafkajs/ adaptations). */
  tunedPassthrough: DrainSummary;
  /** Median processor events/s ÷ median passthrough events/s (the target's ratio: stock kafkajs). */
  ratio: number;
  /** Median processor events/s ÷ median tuned passthrough events/s. */
  ratioTuned: number;
  /** Every processor run gave every preloaded notification an outcome. */
  allAccounted: boolean;
}

const API_KEY = 'bench-api-key';

/** Polls the group until everything is committed; the rate counts only commits after the first one seen. */
async function drain(
  ctx: BenchContext,
  groupId: string,
  topic: string,
  total: number,
  startedAt: number,
  timeoutMs: number,
): Promise<Pick<DrainRun, 'eventsPerSecond' | 'startupSeconds' | 'drainSeconds' | 'committedAt'>> {
  const deadline = Date.now() + timeoutMs;
  let first: { at: number; lag: number } | undefined;
  let lastLog = 0;
  const marks = [0.5, 0.9, 0.99] as const;
  const reached: number[] = [];
  for (;;) {
    const lag = await groupLag(ctx.infra.admin, groupId, topic).catch(() => total);
    const now = performance.now();
    if (first === undefined && lag < total) first = { at: now, lag };
    if (first) {
      const done = (first.lag - lag) / first.lag;
      while (reached.length < marks.length && done >= (marks[reached.length] as number)) {
        reached.push(round((now - first.at) / 1000, 1));
      }
    }
    if (lag === 0 && first) {
      const seconds = (now - first.at) / 1000;
      const [p50 = 0, p90 = 0, p99 = 0] = reached;
      return {
        eventsPerSecond: seconds > 0 ? first.lag / seconds : Number.NaN,
        startupSeconds: (first.at - startedAt) / 1000,
        drainSeconds: seconds,
        committedAt: { p50, p90, p99 },
      };
    }
    if (now - lastLog > 10_000) {
      ctx.log(`processor: ${groupId}: ${total - lag}/${total} committed`);
      lastLog = now;
    }
    if (Date.now() > deadline) throw new Error(`${groupId}: lag ${lag} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** nylas_stream_processor_notifications_total summed by outcome. */
export async function outcomesFrom(metricsUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(metricsUrl)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^nylas_stream_processor_notifications_total\{([^}]*)\} (\S+)/.exec(line);
    const outcome = m && /outcome="([^"]+)"/.exec(m[1] ?? '')?.[1];
    if (m && outcome) out[outcome] = (out[outcome] ?? 0) + Number(m[2]);
  }
  return out;
}

export async function runProcessor(ctx: BenchContext, largeMessages: boolean): Promise<ProcessorResult> {
  const s = processorSettings(ctx.quick, largeMessages, ctx.processorRecords);
  const topicEnv = await scenarioTopics(ctx.infra, 'bench-proc', s.partitions);
  const raw = String(topicEnv.TOPIC_RAW);
  // The generator's clock advances a mean gap per notification (1 s by default: 55 h for 200,000), and
  // the processor dead-letters envelope times more than DEDUPE_WINDOW − ACCEPT_WINDOW ahead of now
  // (BEYOND_WINDOW). Until 2026-12-05 the traffic started now and about half of it was dead-lettered,
  // which is not the work being measured. It now ends about now and spans at most TRAFFIC_SPAN_S.
  const meanGapSeconds = Math.min(1, TRAFFIC_SPAN_S / s.count);
  const startTime = Math.floor(Date.now() / 1000) - Math.ceil(s.count * meanGapSeconds);
  const world = createWorld({ seed: 20_251_122, grants: s.grants, startTime });
  const preload = await preloadRaw(ctx.infra.kafka, world, {
    topic: raw,
    count: s.count,
    duplicateRate: s.duplicateRate,
    reorderRate: s.reorderRate,
    reorderWindow: 8,
    seed: 7,
    secret: 'bench-webhook-secret',
    generator: s.largeMessages ? { meanGapSeconds } : { meanGapSeconds, bodySizes: { largeRate: 0 } },
  });
  ctx.log(
    `processor: preloaded ${preload.records} records (${preload.duplicates} duplicates, ${preload.reordered} reordered, ` +
      `${preload.truncated} truncated, ${round(preload.bytes / 1048576)} MB) in ${round(preload.seconds)} s`,
  );
  const api = await startNylasApi({ world, apiKey: API_KEY, port: 0 });
  ctx.defer('nylas-api', () => api.close());
  const passthroughOut = uniqueName('bench-passthrough-out');
  await createTopic(ctx.infra, passthroughOut, s.partitions);

  const runs = {
    processor: [] as DrainRun[],
    passthrough: [] as DrainRun[],
    tunedPassthrough: [] as DrainRun[],
  };
  const kinds = ['processor', 'passthrough', 'tunedPassthrough'] as const;
  for (let rep = 0; rep < s.reps; rep++) {
    // Each kind goes first in turn, so a slow start of the machine does not fall on one of them.
    const order = kinds.map((_, i) => kinds[(i + rep) % kinds.length] as (typeof kinds)[number]);
    for (const which of order) {
      const groupId = uniqueName(`bench-${which}`);
      const startedAt = performance.now();
      const broker = new UsageSampler(ctx.brokerPid(), 500).start();
      if (which === 'processor') {
        const state = uniqueName('bench-proc-state');
        await createTopic(ctx.infra, state, s.partitions, {
          'cleanup.policy': 'compact',
          'min.compaction.lag.ms': '0',
        });
        const port = await freePort();
        const stateDir = newStateDir(ctx, 'processor');
        const service = await startService(ctx, 'processor', {
          args: ['processor'],
          env: {
            ...ctx.infra.env,
            ...topicEnv,
            TOPIC_STATE: state,
            PROCESSOR_GROUP_ID: groupId,
            PROCESSOR_METRICS_PORT: String(port),
            PROCESSOR_STATE_DIR: stateDir,
            NYLAS_API_KEY: API_KEY,
            NYLAS_API_URI: api.url,
            LOG_LEVEL: 'warn',
          },
          readyUrl: `http://127.0.0.1:${port}/readyz`,
          readyTimeoutMs: 120_000,
        });
        const usage = new UsageSampler(service.pid ?? -1, 250).start();
        const d = await drain(ctx, groupId, raw, s.count, startedAt, s.timeoutMs);
        const usageSeen = usage.stop();
        const brokerSeen = broker.stop();
        // Outcomes are counted right after each commit; give the last one a moment.
        await new Promise((r) => setTimeout(r, 1000));
        const outcomes = await outcomesFrom(`http://127.0.0.1:${port}/metrics`).catch(() => ({}));
        const accounted = ['emitted', 'duplicate', 'stale', 'dead_lettered'].reduce(
          (n, k) => n + ((outcomes as Record<string, number>)[k] ?? 0),
          0,
        );
        if (accounted !== s.count)
          ctx.log(`processor: WARNING: ${accounted} of ${s.count} notifications have an outcome`);
        // Every preloaded notification is valid and inside the window: a dead letter means the run
        // measured something else (it did, unnoticed, while the traffic lay beyond the window).
        const deadLettered = (outcomes as Record<string, number>).dead_lettered ?? 0;
        if (deadLettered > 0)
          throw new Error(`processor: ${deadLettered} notifications dead-lettered; see ${ctx.logDir}`);
        const run: DrainRun = {
          rep,
          ...d,
          usage: usageSeen,
          brokerCpuCores: brokerSeen.cpuCores,
          outcomes,
          accounted,
        };
        runs.processor.push(run);
        await ctx.release('processor');
        rmSync(stateDir, { recursive: true, force: true });
      } else {
        const name = which === 'passthrough' ? 'passthrough' : 'passthrough-tuned';
        const child = new BenchChild({
          name,
          script: join(ctx.scriptDir, 'baselines', 'passthrough.js'),
          env: {
            ...ctx.infra.env,
            TOPIC_RAW: raw,
            BENCH_OUTPUT_TOPIC: passthroughOut,
            BENCH_GROUP_ID: groupId,
            BENCH_PASSTHROUGH_CLIENT: which === 'passthrough' ? 'stock' : 'tuned',
            LOG_LEVEL: 'warn',
          },
          execArgv: ctx.profile.has(name)
            ? ['--cpu-prof', `--cpu-prof-dir=${join(ctx.profileDir, name)}`]
            : [],
          logDir: ctx.logDir,
        });
        ctx.defer(name, () => child.stop());
        await child.start();
        const usage = new UsageSampler(child.pid, 250).start();
        const d = await drain(ctx, groupId, raw, s.count, startedAt, s.timeoutMs);
        runs[which].push({ rep, ...d, usage: usage.stop(), brokerCpuCores: broker.stop().cpuCores });
        await ctx.release(name);
      }
      const last = runs[which][runs[which].length - 1] as DrainRun;
      ctx.log(
        `processor: ${which} ${rep + 1}/${s.reps}: ${round(last.eventsPerSecond)} events/s ` +
          `(drain ${round(last.drainSeconds)} s; 50/90/99 % committed at ${last.committedAt.p50}/${last.committedAt.p90}/${last.committedAt.p99} s; start-up ${round(last.startupSeconds)} s, ` +
          `cpu ${round(last.usage.cpuCores, 2)}, rss ${round(last.usage.rssPeakMb)} MB)` +
          (last.outcomes ? ` ${JSON.stringify(last.outcomes)}` : ''),
      );
    }
  }
  await ctx.release('nylas-api');

  const summarize = (list: DrainRun[]): DrainSummary => ({
    runs: list,
    medianEventsPerSecond: round(median(list.map((r) => r.eventsPerSecond))),
    medianCpuCores: round(median(list.map((r) => r.usage.cpuCores)), 2),
    medianRssPeakMb: round(median(list.map((r) => r.usage.rssPeakMb))),
  });
  const processor = summarize(runs.processor);
  const passthrough = summarize(runs.passthrough);
  const tunedPassthrough = summarize(runs.tunedPassthrough);
  return {
    settings: s,
    preload,
    processor,
    passthrough,
    tunedPassthrough,
    ratio: round(processor.medianEventsPerSecond / passthrough.medianEventsPerSecond, 2),
    ratioTuned: round(processor.medianEventsPerSecond / tunedPassthrough.medianEventsPerSecond, 2),
    allAccounted: runs.processor.every((r) => r.accounted === s.count),
  };
}
