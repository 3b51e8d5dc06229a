/**
 * Scenario 3, end to end: 1,000 notifications/s for 60 s of the simulator's realistic mix, sent open
 * loop by the load generator process (which also serves the simulated Nylas API for expansion) to the
 * ingress; the processor turns them into domain events; a read_committed consumer records, per event,
 * ingress receipt (the event's received_at, from the raw record's received-at header) → visible after commit.
 */

import { CommitLatencyCollector } from '../lib/collector';
import type { BenchContext } from '../lib/context';
import { waitForZeroLag } from '../lib/infra';
import { PIPELINE_TRAFFIC, startPipelineServices } from '../lib/pipeline-services';
import { type ProcessUsage, UsageSampler } from '../lib/proc';
import { counter, histogramQuantile, scrape } from '../lib/prom';
import { type LatencySummary, round, summarizeLatencies } from '../lib/stats';
import { startTraffic } from '../lib/traffic';
import type { LoadSummary } from '../load/generator';

export interface EndToEndSettings {
  rate: number;
  seconds: number;
  grants: number;
  /** Most connections the sender opens. */
  concurrency: number;
  p99TargetMs: number;
  /** Seconds at the full rate before the measured run (JIT, connections, round sizes settle). */
  warmUpSeconds: number;
}

export function endToEndSettings(quick: boolean): EndToEndSettings {
  return {
    rate: 1000,
    seconds: quick ? 15 : 60,
    grants: 100,
    concurrency: 512,
    p99TargetMs: 1000,
    warmUpSeconds: quick ? 5 : 15,
  };
}

export interface EndToEndResult {
  settings: EndToEndSettings;
  /** The sender's view: achieved rate, ingress acknowledgement latency, non-200. */
  load: LoadSummary;
  generated: { generated: number; truncated: number; meanBytes: number };
  events: number;
  /** The processor's own count of what it did with the measured notifications (its /metrics). */
  outcomes: { emitted: number; duplicate: number; stale: number; deadLettered: number };
  latencyMs: LatencySummary;
  /** The warm-up at the full rate right after the services started (not in latencyMs): the cold start. */
  warmUpLatencyMs: LatencySummary;
  ingress: ProcessUsage;
  processor: ProcessUsage;
  broker: ProcessUsage;
  /** The load generator, which also serves the simulated Nylas API. */
  traffic: ProcessUsage;
  /** Processor transactions committed per second during the run (from its /metrics). */
  transactionsPerSecond: number;
  /** The services' own histograms over the run (ms): where the time went. */
  breakdown: {
    ingressAckP50: number;
    ingressAckP99: number;
    processorEndToEndP50: number;
    processorEndToEndP99: number;
    /** Nylas API calls for `.truncated` messages: how many, and how long each took. */
    expansions: number;
    expansionP50: number;
    expansionP99: number;
    /** Nylas API calls that failed (and were retried) during expansion. */
    expansionErrors: number;
    /** The simulated API's own time per message fetch (request in → response out), ms. */
    apiServerMs: { count: number; p50: number; p99: number };
    /** Processor rounds: p50/p99 ms per phase (pipeline, produce, offsets, commit). */
    roundPhasesMs: Record<string, { p50: number; p99: number }>;
  };
}

/**
 * --timeline: per second of the run, how many events became visible, their latency, and on which
 * partitions the slow ones (> 800 ms) were — a stall of one partition and a stall of everything look
 * different.
 */
function timeline(collector: CommitLatencyCollector): string[] {
  const bySecond = new Map<number, { latencies: number[]; slow: Map<number, number> }>();
  collector.seenAt.forEach((t, i) => {
    const second = Math.floor(t / 1000);
    const entry = bySecond.get(second) ?? { latencies: [], slow: new Map<number, number>() };
    const latency = collector.latenciesMs[i] as number;
    entry.latencies.push(latency);
    if (latency > 800) {
      const p = collector.partitions[i] as number;
      entry.slow.set(p, (entry.slow.get(p) ?? 0) + 1);
    }
    bySecond.set(second, entry);
  });
  const first = Math.min(...bySecond.keys());
  return [...bySecond]
    .sort((x, y) => x[0] - y[0])
    .map(([second, { latencies, slow }]) => {
      const l = summarizeLatencies(latencies);
      const slowText = [...slow].map(([p, n]) => `p${p}:${n}`).join(' ');
      return (
        `timeline +${second - first}s: ${latencies.length} events, p50 ${l.p50} p99 ${l.p99} max ${l.max} ms` +
        (slowText ? `; > 800 ms by partition ${slowText}` : '')
      );
    });
}

export async function runEndToEnd(ctx: BenchContext): Promise<EndToEndResult> {
  const s = endToEndSettings(ctx.quick);
  const traffic = await startTraffic(ctx, 'traffic-e2e', { grants: s.grants, seed: 31, ...PIPELINE_TRAFFIC });
  const services = await startPipelineServices(ctx, { prefix: 'bench-e2e', apiUrl: traffic.apiUrl });
  const { topics, groupId, ingress, processor } = services;
  const metricsUrl = services.processorMetricsUrl;
  const { ingressMetricsUrl, webhookUrl } = services;
  const collector = await new CommitLatencyCollector(ctx.infra.kafka, topics).start();
  ctx.defer('e2e-collector', () => collector.stop());

  // Warm-up, not measured: a trickle through the whole pipeline until it comes out, so every partition
  // is taken over (the processor's /readyz is true before its first assignment); then the full rate for
  // a while, because freshly started processes run unoptimized code for their first seconds (a step from
  // idle to full rate took seconds to settle before this; docs/benchmarks.md) and the figure is about the
  // steady state. The warm-up's own latencies are reported beside it as the cold start.
  // After sending: until the raw topic is fully committed, then until the collector has been quiet for
  // a moment (it sees an event shortly after its commit).
  const drained = async (quietMs: number) => {
    await waitForZeroLag(ctx.infra.admin, groupId, topics.raw, 120_000);
    while (Date.now() - collector.lastSeenAt < quietMs) await new Promise((r) => setTimeout(r, 100));
  };
  const send = (rate: number, seconds: number, maxSockets: number) =>
    traffic.request<LoadSummary>({ kind: 'rate', url: webhookUrl, rate, seconds, maxSockets });
  const warmUp = async (rate: number, seconds: number, maxSockets: number) => {
    await send(rate, seconds, maxSockets);
    await drained(1000);
  };
  await warmUp(100, 2, 16);
  collector.reset();
  await warmUp(s.rate, s.warmUpSeconds, s.concurrency);
  const warmUpLatencyMs = summarizeLatencies(collector.latenciesMs);
  ctx.log(
    `end-to-end: warm-up ${s.warmUpSeconds} s at ${s.rate}/s: p50 ${warmUpLatencyMs.p50} ms, p99 ${warmUpLatencyMs.p99} ms (not counted)`,
  );
  collector.reset();

  const ingressUsage = new UsageSampler(ingress.pid ?? -1, 500).start();
  const processorUsage = new UsageSampler(processor.pid ?? -1, 500).start();
  const brokerUsage = new UsageSampler(ctx.brokerPid(), 500).start();
  // The load generator also serves the simulated Nylas API (it owns the world the API answers from).
  const trafficUsage = new UsageSampler(traffic.pid, 500).start();
  const [processorBefore, ingressBefore] = await Promise.all([scrape(metricsUrl), scrape(ingressMetricsUrl)]);
  const sendStartedAt = Date.now();
  const load = await send(s.rate, s.seconds, s.concurrency);
  ctx.log(
    `end-to-end: sent ${load.sent} at ${load.rps} req/s (200: ${load.ok}), ingress ack p99 ${load.latencyMs.p99} ms`,
  );
  await drained(2000);
  const generated = await traffic.request<EndToEndResult['generated']>({ kind: 'generated' });
  const apiTimes = await traffic.request<{ count: number; ms: LatencySummary }>({
    kind: 'api-times',
    since: sendStartedAt,
  });
  const [processorAfter, ingressAfter] = await Promise.all([scrape(metricsUrl), scrape(ingressMetricsUrl)]);
  const committed = (t: string) =>
    counter(t, 'nylas_stream_processor_transactions_total', 'outcome="committed"');
  const transactions = committed(processorAfter) - committed(processorBefore);
  const outcome = (o: string) =>
    counter(processorAfter, 'nylas_stream_processor_notifications_total', `outcome="${o}"`) -
    counter(processorBefore, 'nylas_stream_processor_notifications_total', `outcome="${o}"`);
  const ms = (before: string, after: string, name: string, q: number, filter = '') =>
    round(histogramQuantile(before, after, name, q, filter) * 1000);
  const roundPhasesMs: Record<string, { p50: number; p99: number }> = {};
  for (const phase of ['pipeline', 'produce', 'offsets', 'commit']) {
    const at = (q: number) =>
      ms(
        processorBefore,
        processorAfter,
        'nylas_stream_processor_round_phase_seconds',
        q,
        `phase="${phase}"`,
      );
    roundPhasesMs[phase] = { p50: at(0.5), p99: at(0.99) };
  }
  const ack = 'nylas_stream_ingress_ack_latency_seconds';
  const e2e = 'nylas_stream_processor_end_to_end_latency_seconds';
  const expansion = 'nylas_stream_processor_expansion_latency_seconds';
  const seconds = (Date.now() - sendStartedAt) / 1000;
  const result: EndToEndResult = {
    settings: s,
    load,
    generated,
    events: collector.latenciesMs.length,
    outcomes: {
      emitted: outcome('emitted'),
      duplicate: outcome('duplicate'),
      stale: outcome('stale'),
      deadLettered: outcome('dead_lettered'),
    },
    latencyMs: summarizeLatencies(collector.latenciesMs),
    warmUpLatencyMs,
    ingress: ingressUsage.stop(),
    processor: processorUsage.stop(),
    broker: brokerUsage.stop(),
    traffic: trafficUsage.stop(),
    transactionsPerSecond: Math.round(transactions / seconds),
    breakdown: {
      ingressAckP50: ms(ingressBefore, ingressAfter, ack, 0.5),
      ingressAckP99: ms(ingressBefore, ingressAfter, ack, 0.99),
      processorEndToEndP50: ms(processorBefore, processorAfter, e2e, 0.5),
      processorEndToEndP99: ms(processorBefore, processorAfter, e2e, 0.99),
      expansions:
        counter(processorAfter, `${expansion}_count`) - counter(processorBefore, `${expansion}_count`),
      expansionP50: ms(processorBefore, processorAfter, expansion, 0.5),
      expansionP99: ms(processorBefore, processorAfter, expansion, 0.99),
      expansionErrors:
        counter(processorAfter, 'nylas_stream_processor_expansion_errors_total') -
        counter(processorBefore, 'nylas_stream_processor_expansion_errors_total'),
      roundPhasesMs,
      apiServerMs: { count: apiTimes.count, p50: apiTimes.ms.p50, p99: apiTimes.ms.p99 },
    },
  };
  ctx.log(
    `end-to-end: processor outcomes ${JSON.stringify(result.outcomes)}; the watchers saw ${result.events} events`,
  );
  ctx.log(
    `end-to-end: ${result.events} events, p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms, ` +
      `p99.9 ${result.latencyMs.p999} ms, max ${result.latencyMs.max} ms; cpu ingress ${result.ingress.cpuCores.toFixed(2)}, ` +
      `processor ${result.processor.cpuCores.toFixed(2)}, broker ${result.broker.cpuCores.toFixed(2)}, ` +
      `load generator + API ${result.traffic.cpuCores.toFixed(2)}; ` +
      `${result.transactionsPerSecond} transactions/s; ingress ack p50/p99 ${result.breakdown.ingressAckP50}/` +
      `${result.breakdown.ingressAckP99} ms, processor received→committed p50/p99 ${result.breakdown.processorEndToEndP50}/` +
      `${result.breakdown.processorEndToEndP99} ms; ${result.breakdown.expansions} expansions p50/p99 ` +
      `${result.breakdown.expansionP50}/${result.breakdown.expansionP99} ms, ${result.breakdown.expansionErrors} failed API calls, ` +
      `the API's own time p50/p99 ${result.breakdown.apiServerMs.p50}/${result.breakdown.apiServerMs.p99} ms; ` +
      `round phases p50/p99 ms ${Object.entries(roundPhasesMs)
        .map(([k, v]) => `${k} ${v.p50}/${v.p99}`)
        .join(', ')}`,
  );
  if (ctx.timeline) for (const line of timeline(collector)) ctx.log(line);
  await ctx.release('traffic-e2e');
  await ctx.release('e2e-collector');

  await ctx.release('processor');
  await ctx.release('ingress');
  return result;
}
