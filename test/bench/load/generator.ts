/**
 * The load generator, in its own process so its CPU is not the server's: a keep-alive node:http client
 * firing pre-signed notifications. Two modes:
 *
 * - burst: closed loop, `concurrency` connections each sending the next notification as soon as the
 *   previous one is answered, until `count` are answered ("as fast as the generator can send");
 * - rate: open loop at a fixed rate for a duration; latency is measured from the *scheduled* send time,
 *   so a server that falls behind shows its queueing delay instead of slowing the generator down
 *   (no coordinated omission).
 *
 * Runs as a forked child of the bench (IPC: prepare → burst/rate → summaries).
 */
import http from 'node:http';
import { type NylasApiServer, startNylasApi } from '../../../simulator';
import { serveParent } from '../lib/child';
import { type LatencySummary, round, summarizeLatencies } from '../lib/stats';
import {
  buildPayloads,
  type MixOptions,
  MixSource,
  type PayloadOptions,
  type PayloadSource,
  type SignedPayload,
} from './payloads';

export interface LoadSummary {
  mode: 'burst' | 'rate';
  sent: number;
  ok: number;
  /** Answers other than 200 (by status; 0 = no answer: connection error or 15 s timeout). */
  non200: number;
  statuses: Record<string, number>;
  durationMs: number;
  /** 200 answers per second over the run. */
  rps: number;
  /** For rate mode: what was asked. */
  offeredRps?: number;
  latencyMs: LatencySummary;
  generatorCpuCores: number;
}

let source: PayloadSource = {
  next: () => {
    throw new Error('no payloads prepared');
  },
};
let api: NylasApiServer | undefined;

function post(agent: http.Agent, url: URL, p: SignedPayload): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': p.body.length,
          'x-nylas-signature': p.signature,
        },
        timeout: 15_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(0));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
    req.end(p.body);
  });
}

function summary(
  mode: LoadSummary['mode'],
  statuses: Map<number, number>,
  latencies: Float64Array,
  durationMs: number,
  cpuStart: NodeJS.CpuUsage,
  offeredRps?: number,
): LoadSummary {
  const cpu = process.cpuUsage(cpuStart);
  const ok = statuses.get(200) ?? 0;
  let sent = 0;
  for (const n of statuses.values()) sent += n;
  return {
    mode,
    sent,
    ok,
    non200: sent - ok,
    statuses: Object.fromEntries([...statuses].map(([k, v]) => [String(k), v])),
    durationMs: round(durationMs),
    rps: round((ok * 1000) / durationMs),
    ...(offeredRps !== undefined ? { offeredRps } : {}),
    latencyMs: summarizeLatencies(latencies),
    generatorCpuCores: round((cpu.user + cpu.system) / 1000 / durationMs, 2),
  };
}

async function burst(url: URL, count: number, concurrency: number): Promise<LoadSummary> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies = new Float64Array(count);
  const statuses = new Map<number, number>();
  const cpuStart = process.cpuUsage();
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        const t = performance.now();
        const status = await post(agent, url, source.next(i));
        latencies[i] = performance.now() - t;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }),
  );
  const durationMs = performance.now() - started;
  agent.destroy();
  return summary('burst', statuses, latencies, durationMs, cpuStart);
}

async function openLoop(url: URL, rate: number, seconds: number, maxSockets: number): Promise<LoadSummary> {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const latencies = new Float64Array(total);
  const statuses = new Map<number, number>();
  const inFlight: Array<Promise<void>> = [];
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  let lastAnswer = started;
  let issued = 0;
  while (issued < total) {
    const due = Math.min(total, Math.floor((performance.now() - started) / interval) + 1);
    while (issued < due) {
      const i = issued++;
      const scheduled = started + i * interval;
      inFlight.push(
        post(agent, url, source.next(i)).then((status) => {
          lastAnswer = performance.now();
          latencies[i] = lastAnswer - scheduled;
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }),
      );
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(inFlight);
  agent.destroy();
  return summary('rate', statuses, latencies, lastAnswer - started, cpuStart, rate);
}

const ready = serveParent(async (msg) => {
  switch (msg.kind) {
    case 'prepare': {
      const started = performance.now();
      const list = buildPayloads(msg.payloads as PayloadOptions);
      source = { next: (i) => list[i % list.length] as SignedPayload };
      return { count: list.length, ms: round(performance.now() - started) };
    }
    case 'prepare-mix': {
      // The simulator's realistic mix, generated while sending, and the Nylas API for the same world
      // (the processor expands truncated messages through it).
      const mix = new MixSource(msg.mix as MixOptions);
      source = mix;
      const o = msg.mix as MixOptions;
      api = await startNylasApi({ world: mix.world, apiKey: o.apiKey, port: o.apiPort });
      return { api: api.url };
    }
    case 'generated':
      return source instanceof MixSource ? source.stats() : {};
    case 'api-times': {
      // The simulated API's own time per message fetch (request in → last byte out), since `since`.
      const since = Number(msg.since ?? 0);
      const times = (api?.requests ?? [])
        .filter((r) => r.at >= since && r.method === 'GET' && r.path.includes('/messages/'))
        .map((r) => r.durationMs);
      return { count: times.length, ms: summarizeLatencies(times) };
    }
    case 'burst':
      return burst(new URL(String(msg.url)), Number(msg.count), Number(msg.concurrency));
    case 'rate':
      return openLoop(
        new URL(String(msg.url)),
        Number(msg.rate),
        Number(msg.seconds),
        Number(msg.maxSockets),
      );
    default:
      throw new Error(`unknown request ${String(msg.kind)}`);
  }
});
process.once('SIGTERM', () => {
  void (api?.close() ?? Promise.resolve()).finally(() => process.exit(0));
});
ready();
