/**
 * Scenario 1, ingress: the nylas-stream ingress (the real CLI in a child process) against two
 * baselines in the same run — (a) bare node:http + the same micro-batching, the ceiling for our design;
 * (b) naive express awaiting one producer.send per request. All three write to the same raw topic
 * (production plan: 12 partitions, acks=all) and are driven by one load generator process.
 *
 * - burst: the 20,000-notification burst, closed loop over many connections, repeated; servers are
 *   interleaved (a different order each repetition) so machine noise spreads over all three;
 * - sweep: open-loop rates, rising, until the server falls behind; the knee is the highest rate
 *   answered in full (≥ 99 % of the offered rate, no non-200) with p99 under the target.
 */
import { join } from 'node:path';
import { BenchChild } from '../lib/child';
import { type BenchContext, freePort, startScript, startService } from '../lib/context';
import { scenarioTopics } from '../lib/infra';
import { type ProcessUsage, UsageSampler } from '../lib/proc';
import { median, round } from '../lib/stats';
import type { LoadSummary } from '../load/generator';

export const SERVERS = ['ingress', 'bare-http', 'naive-express'] as const;
export type ServerName = (typeof SERVERS)[number];

export const SERVER_LABELS: Record<ServerName, string> = {
  ingress: 'nylas-stream ingress',
  'bare-http': 'baseline (a): bare node:http + same micro-batching',
  'naive-express': 'baseline (b): naive express, one send per request (idempotent, acks=all)',
};

export interface IngressSettings {
  burstCount: number;
  reps: number;
  concurrency: number;
  warmup: number;
  payloadBytes: number;
  grants: number;
  sweepRates: number[];
  sweepSeconds: number;
  sweepMaxSockets: number;
  /** p99 bound for the knee and the burst target (ms). */
  p99TargetMs: number;
}

export function ingressSettings(quick: boolean): IngressSettings {
  return quick
    ? {
        burstCount: 5000,
        reps: 2,
        concurrency: 256,
        warmup: 1000,
        payloadBytes: 2048,
        grants: 500,
        sweepRates: [1000, 2000, 4000],
        sweepSeconds: 3,
        sweepMaxSockets: 512,
        p99TargetMs: 250,
      }
    : {
        burstCount: 20_000,
        reps: 5,
        concurrency: 256,
        warmup: 3000,
        payloadBytes: 2048,
        grants: 500,
        sweepRates: [500, 1000, 1500, 2000, 3000, 4000, 5000, 6000, 8000, 10_000],
        sweepSeconds: 10,
        sweepMaxSockets: 512,
        p99TargetMs: 250,
      };
}

export interface BurstRun {
  rep: number;
  load: LoadSummary;
  server: ProcessUsage;
  broker: ProcessUsage;
}

export interface BurstMedians {
  rps: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  non200Total: number;
  /** Every repetition answered all `burstCount` notifications with 200. */
  allAcknowledged: boolean;
  cpuCores: number;
  rssPeakMb: number;
  brokerCpuCores: number;
  generatorCpuCores: number;
}

export interface SweepStep {
  offeredRps: number;
  load: LoadSummary;
  server: ProcessUsage;
}

export interface IngressResult {
  settings: IngressSettings;
  burst: Record<ServerName, { runs: BurstRun[]; median: BurstMedians }>;
  sweep: Record<ServerName, { steps: SweepStep[]; kneeRps: number }>;
  /** Median ingress requests/s divided by each baseline's. */
  ratios: { toNaive: number; toBare: number };
}

interface Server {
  name: ServerName;
  url: string;
  pid(): number;
}

const SECRET = 'bench-webhook-secret';

function medians(runs: BurstRun[], count: number): BurstMedians {
  const m = (f: (r: BurstRun) => number) => round(median(runs.map(f)), 2);
  return {
    rps: m((r) => r.load.rps),
    p50: m((r) => r.load.latencyMs.p50),
    p99: m((r) => r.load.latencyMs.p99),
    p999: m((r) => r.load.latencyMs.p999),
    max: m((r) => r.load.latencyMs.max),
    non200Total: runs.reduce((n, r) => n + r.load.non200, 0),
    allAcknowledged: runs.every((r) => r.load.ok === count),
    cpuCores: m((r) => r.server.cpuCores),
    rssPeakMb: m((r) => r.server.rssPeakMb),
    brokerCpuCores: m((r) => r.broker.cpuCores),
    generatorCpuCores: m((r) => r.load.generatorCpuCores),
  };
}

async function startServers(ctx: BenchContext, topicEnv: Record<string, string>): Promise<Server[]> {
  const common = {
    ...ctx.infra.env,
    ...topicEnv,
    INGRESS_HOST: '127.0.0.1',
    NYLAS_WEBHOOK_SECRETS: SECRET,
    LOG_LEVEL: 'warn',
  };
  const servers: Server[] = [];
  const ingressPort = await freePort();
  const ingress = await startService(ctx, 'ingress', {
    args: ['ingress'],
    env: { ...common, INGRESS_PORT: String(ingressPort) },
    readyUrl: `http://127.0.0.1:${ingressPort}/readyz`,
  });
  servers.push({ name: 'ingress', url: `http://127.0.0.1:${ingressPort}`, pid: () => ingress.pid ?? -1 });
  const bareExecArgv = ctx.profile.has('bare-http')
    ? ['--cpu-prof', `--cpu-prof-dir=${join(ctx.profileDir, 'bare-http')}`]
    : [];
  const bare = new BenchChild({
    name: 'bare-http',
    script: join(ctx.scriptDir, 'baselines', 'bare-http.js'),
    env: { ...common, INGRESS_PORT: '0' },
    execArgv: bareExecArgv,
    logDir: ctx.logDir,
  });
  ctx.defer('bare-http', () => bare.stop());
  await bare.start();
  servers.push({ name: 'bare-http', url: String(bare.readyInfo.url), pid: () => bare.pid });
  // Baseline (b) is the naive handler the ingress was first measured against (issue 4), run the
  // way they run it: idempotent producer, acks=all, 200 after the acknowledgement, no batching.
  const naivePort = await freePort();
  const naive = await startScript(ctx, 'naive-express', {
    file: 'test/bench/baselines/naive-express.ts',
    env: { ...common, PORT: String(naivePort), KAFKAJS_NO_PARTITIONER_WARNING: '1' },
    readyUrl: `http://127.0.0.1:${naivePort}/readyz`,
  });
  servers.push({ name: 'naive-express', url: `http://127.0.0.1:${naivePort}`, pid: () => naive.pid });
  return servers;
}

export async function runIngress(ctx: BenchContext): Promise<IngressResult> {
  const s = ingressSettings(ctx.quick);
  const topicEnv = await scenarioTopics(ctx.infra, 'bench-ingress', 12);
  const generator = new BenchChild({
    name: 'load-generator',
    script: join(ctx.scriptDir, 'load', 'generator.js'),
    logDir: ctx.logDir,
  });
  ctx.defer('load-generator', () => generator.stop());
  await generator.start();
  const prepared = await generator.request<{ count: number; ms: number }>({
    kind: 'prepare',
    payloads: { count: s.burstCount, bytes: s.payloadBytes, grants: s.grants, seed: 8, secret: SECRET },
  });
  ctx.log(
    `ingress: ${prepared.count} signed ${s.payloadBytes}-byte notifications prepared in ${prepared.ms} ms`,
  );
  const servers = await startServers(ctx, topicEnv);

  for (const server of servers) {
    const w = await generator.request<LoadSummary>({
      kind: 'burst',
      url: `${server.url}/webhooks/nylas`,
      count: s.warmup,
      concurrency: s.concurrency,
    });
    ctx.log(`ingress: warm-up ${server.name}: ${w.ok}/${w.sent} ok, ${w.rps} req/s`);
  }

  const runs: Record<ServerName, BurstRun[]> = { ingress: [], 'bare-http': [], 'naive-express': [] };
  for (let rep = 0; rep < s.reps; rep++) {
    const order = servers.map((_, i) => servers[(i + rep) % servers.length] as Server);
    for (const server of order) {
      const serverUsage = new UsageSampler(server.pid()).start();
      const brokerUsage = new UsageSampler(ctx.brokerPid(), 500).start();
      const load = await generator.request<LoadSummary>({
        kind: 'burst',
        url: `${server.url}/webhooks/nylas`,
        count: s.burstCount,
        concurrency: s.concurrency,
      });
      const run = { rep, load, server: serverUsage.stop(), broker: brokerUsage.stop() };
      runs[server.name].push(run);
      ctx.log(
        `ingress: burst ${rep + 1}/${s.reps} ${server.name}: ${load.rps} req/s, p50 ${load.latencyMs.p50} ms, ` +
          `p99 ${load.latencyMs.p99} ms, p99.9 ${load.latencyMs.p999} ms, non-200 ${load.non200}, ` +
          `cpu ${round(run.server.cpuCores, 2)}, rss ${round(run.server.rssPeakMb)} MB`,
      );
    }
  }

  const sweep = {} as IngressResult['sweep'];
  for (const server of servers) {
    const steps: SweepStep[] = [];
    let kneeRps = 0;
    let failures = 0;
    for (const rate of s.sweepRates) {
      const usage = new UsageSampler(server.pid()).start();
      const load = await generator.request<LoadSummary>({
        kind: 'rate',
        url: `${server.url}/webhooks/nylas`,
        rate,
        seconds: s.sweepSeconds,
        maxSockets: s.sweepMaxSockets,
      });
      steps.push({ offeredRps: rate, load, server: usage.stop() });
      // Latency counts from the scheduled send time, so a server falling behind shows it in p99.
      const kept = load.non200 === 0 && load.ok === load.sent && load.latencyMs.p99 < s.p99TargetMs;
      ctx.log(
        `ingress: sweep ${server.name} @ ${rate}/s: ${load.rps} req/s, p99 ${load.latencyMs.p99} ms, non-200 ${load.non200}${kept ? '' : ' (behind)'}`,
      );
      if (kept) {
        kneeRps = rate;
        failures = 0;
      } else if (++failures >= 2 || load.latencyMs.p99 > 5000) {
        break;
      }
    }
    sweep[server.name] = { steps, kneeRps };
  }

  await generator.stop();
  for (const name of [...SERVERS].reverse()) await ctx.release(name);

  const burst = {} as IngressResult['burst'];
  for (const name of SERVERS) burst[name] = { runs: runs[name], median: medians(runs[name], s.burstCount) };
  return {
    settings: s,
    burst,
    sweep,
    ratios: {
      toNaive: round(burst.ingress.median.rps / burst['naive-express'].median.rps, 2),
      toBare: round(burst.ingress.median.rps / burst['bare-http'].median.rps, 2),
    },
  };
}
