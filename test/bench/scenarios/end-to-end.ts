/**
 * Scenario 3, end to end: 1,000 notifications/s for 60 s of the simulator's realistic mix, sent open
 * loop by the load generator process (which also serves the simulated Nylas API for expansion) to the
 * ingress; the processor turns them into domain events; a read_committed consumer records, per event,
 * ingress receipt (the event's received_at, from the raw record's received-at header) → visible after commit.
 */

import { CommitLatencyCollector } from '../lib/collector';
import type { BenchContext } from '../lib/context';
import { waitForZeroLag } from '../lib/infra';
import { startPipelineServices } from '../lib/pipeline-services';
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
}

export function endToEndSettings(quick: boolean): EndToEndSettings {
  return { rate: 1000, seconds: quick ? 15 : 60, grants: 100, concurrency: 512, p99TargetMs: 1000 };
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
  };
}

export async function runEndToEnd(ctx: BenchContext): Promise<EndToEndResult> {
  const s = endToEndSettings(ctx.quick);
  const services = await startPipelineServices(ctx, { prefix: 'bench-e2e' });
  const { topics, groupId, ingress, processor } = services;
  const metricsUrl = services.processorMetricsUrl;
  const { ingressMetricsUrl, webhookUrl } = services;
  const collector = await new CommitLatencyCollector(ctx.infra.kafka, topics).start();
  ctx.defer('e2e-collector', () => collector.stop());

  const traffic = await startTraffic(ctx, 'traffic-e2e', { grants: s.grants, seed: 31, ...services.traffic });
  // Warm-up: a trickle through the whole pipeline until it comes out, so the measured minute starts
  // with every partition taken over (the processor's /readyz is true before its first assignment).
  await traffic.request<LoadSummary>({
    kind: 'rate',
    url: webhookUrl,
    rate: 100,
    seconds: 2,
    maxSockets: 16,
  });
  await waitForZeroLag(ctx.infra.admin, groupId, topics.raw, 120_000);
  while (Date.now() - collector.lastSeenAt < 1000) await new Promise((r) => setTimeout(r, 100));
  collector.latenciesMs.length = 0;

  const ingressUsage = new UsageSampler(ingress.pid ?? -1, 500).start();
  const processorUsage = new UsageSampler(processor.pid ?? -1, 500).start();
  const brokerUsage = new UsageSampler(ctx.brokerPid(), 500).start();
  // The load generator also serves the simulated Nylas API (it owns the world the API answers from).
  const trafficUsage = new UsageSampler(traffic.pid, 500).start();
  const [processorBefore, ingressBefore] = await Promise.all([scrape(metricsUrl), scrape(ingressMetricsUrl)]);
  const sendStarted = performance.now();
  const load = await traffic.request<LoadSummary>({
    kind: 'rate',
    url: webhookUrl,
    rate: s.rate,
    seconds: s.seconds,
    maxSockets: s.concurrency,
  });
  ctx.log(
    `end-to-end: sent ${load.sent} at ${load.rps} req/s (200: ${load.ok}), ingress ack p99 ${load.latencyMs.p99} ms`,
  );
  await waitForZeroLag(ctx.infra.admin, groupId, topics.raw, 120_000);
  // The collector sees an event shortly after its commit; wait until it has been quiet for a moment.
  while (Date.now() - collector.lastSeenAt < 2000) await new Promise((r) => setTimeout(r, 250));
  const generated = await traffic.request<EndToEndResult['generated']>({ kind: 'generated' });
  const [processorAfter, ingressAfter] = await Promise.all([scrape(metricsUrl), scrape(ingressMetricsUrl)]);
  const committed = (t: string) =>
    counter(t, 'nylas_stream_processor_transactions_total', 'outcome="committed"');
  const transactions = committed(processorAfter) - committed(processorBefore);
  const outcome = (o: string) =>
    counter(processorAfter, 'nylas_stream_processor_notifications_total', `outcome="${o}"`) -
    counter(processorBefore, 'nylas_stream_processor_notifications_total', `outcome="${o}"`);
  const ms = (before: string, after: string, name: string, q: number) =>
    round(histogramQuantile(before, after, name, q) * 1000);
  const ack = 'nylas_stream_ingress_ack_latency_seconds';
  const e2e = 'nylas_stream_processor_end_to_end_latency_seconds';
  const expansion = 'nylas_stream_processor_expansion_latency_seconds';
  const seconds = (performance.now() - sendStarted) / 1000;
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
      `${result.breakdown.expansionP50}/${result.breakdown.expansionP99} ms, ${result.breakdown.expansionErrors} failed API calls`,
  );
  await ctx.release('traffic-e2e');
  await ctx.release('e2e-collector');

  await ctx.release('processor');
  await ctx.release('ingress');
  return result;
}
