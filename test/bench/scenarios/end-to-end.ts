/**
 * Scenario 3, end to end: 1,000 notifications/s for 60 s of the simulator's realistic mix, sent open
 * loop by the load generator process (which also serves the simulated Nylas API for expansion) to the
 * ingress; the processor turns them into domain events; a read_committed consumer records, per event,
 * ingress receipt (the received-at header, same value as the event's received_at) → visible after commit.
 */

import { loadTopicsConfig } from '../../../lib/config';
import { domainTopicNames } from '../../../lib/topics';
import { CommitLatencyCollector } from '../lib/collector';
import { type BenchContext, freePort, startService } from '../lib/context';
import { scenarioTopics, uniqueName, waitForZeroLag } from '../lib/infra';
import { type ProcessUsage, UsageSampler } from '../lib/proc';
import { type LatencySummary, summarizeLatencies } from '../lib/stats';
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
  latencyMs: LatencySummary;
  ingress: ProcessUsage;
  processor: ProcessUsage;
}

const SECRET = 'bench-webhook-secret';
const API_KEY = 'bench-api-key';

export async function runEndToEnd(ctx: BenchContext): Promise<EndToEndResult> {
  const s = endToEndSettings(ctx.quick);
  const topicEnv = await scenarioTopics(ctx.infra, 'bench-e2e', 12);
  const topics = loadTopicsConfig({ ...topicEnv });
  const common = { ...ctx.infra.env, ...topicEnv, LOG_LEVEL: 'warn' };
  const ingressPort = await freePort();
  const apiPort = await freePort();
  const metricsPort = await freePort();
  const groupId = uniqueName('bench-e2e-processor');
  const ingress = await startService(ctx, 'ingress', {
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
    args: ['processor'],
    env: {
      ...common,
      PROCESSOR_GROUP_ID: groupId,
      PROCESSOR_METRICS_PORT: String(metricsPort),
      NYLAS_API_KEY: API_KEY,
      NYLAS_API_URI: `http://127.0.0.1:${apiPort}`,
    },
    readyUrl: `http://127.0.0.1:${metricsPort}/readyz`,
    readyTimeoutMs: 120_000,
  });
  const collector = await new CommitLatencyCollector(ctx.infra.kafka, domainTopicNames(topics)).start();
  ctx.defer('e2e-collector', () => collector.stop());
  // Let the processor finish taking its partitions over before traffic starts.
  await new Promise((r) => setTimeout(r, 3000));

  const traffic = await startTraffic(ctx, 'traffic-e2e', {
    grants: s.grants,
    seed: 31,
    secret: SECRET,
    apiPort,
    apiKey: API_KEY,
  });
  const ingressUsage = new UsageSampler(ingress.pid ?? -1, 500).start();
  const processorUsage = new UsageSampler(processor.pid ?? -1, 500).start();
  const load = await traffic.request<LoadSummary>({
    kind: 'rate',
    url: `http://127.0.0.1:${ingressPort}/webhooks/nylas`,
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
  const result: EndToEndResult = {
    settings: s,
    load,
    generated,
    events: collector.latenciesMs.length,
    latencyMs: summarizeLatencies(collector.latenciesMs),
    ingress: ingressUsage.stop(),
    processor: processorUsage.stop(),
  };
  ctx.log(
    `end-to-end: ${result.events} events, p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms, ` +
      `p99.9 ${result.latencyMs.p999} ms, max ${result.latencyMs.max} ms`,
  );
  await ctx.release('traffic-e2e');
  await ctx.release('e2e-collector');
  await ctx.release('processor');
  await ctx.release('ingress');
  return result;
}
