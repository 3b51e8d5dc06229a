/**
 * The live status line of `nylas-stream up`: records per topic, processor lag, and errors, read from
 * Kafka (watermarks, group offsets) and from the services' own /metrics.
 */
import type { Admin } from 'kafkajs';
import type { TopicsConfig } from '../../lib/config';
import { METRICS } from '../../lib/metric-names';
import { domainTopicNames } from '../../lib/topics';

export interface PipelineStatus {
  raw: number;
  domain: Record<string, number>;
  dlq: number;
  rejected: number;
  lag: number;
  ingressErrors: number;
  deadLetters: number;
}

async function recordsIn(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  // high - low counts transaction markers too; good enough for a human-readable progress line.
  return offsets.reduce((sum, p) => sum + (Number(p.high) - Number(p.low)), 0);
}

/** Sums every sample of a counter in Prometheus text format whose labels match `filter`. */
export function sumCounter(
  metricsText: string,
  name: string,
  filter: (labels: string) => boolean = () => true,
): number {
  let sum = 0;
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})?\s+([0-9.eE+-]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if (filter(m[2] ?? '')) sum += Number(m[3]);
  }
  return sum;
}

async function scrape(url: string): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return res.ok ? await res.text() : '';
  } catch {
    return '';
  }
}

export async function readStatus(
  admin: Admin,
  topics: TopicsConfig,
  groupId: string,
  urls: { ingressMetrics: string; processorMetrics: string },
): Promise<PipelineStatus> {
  const domain: Record<string, number> = {};
  for (const t of domainTopicNames(topics)) domain[t] = await recordsIn(admin, t);
  const rawOffsets = await admin.fetchTopicOffsets(topics.raw);
  const committed = await admin.fetchOffsets({ groupId, topics: [topics.raw] });
  const committedBy = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  let lag = 0;
  for (const p of rawOffsets) {
    const c = committedBy.get(p.partition);
    lag += Number(p.high) - (c === undefined || c < 0 ? Number(p.low) : c);
  }
  const [ingressText, processorText] = await Promise.all([
    scrape(urls.ingressMetrics),
    scrape(urls.processorMetrics),
  ]);
  return {
    raw: rawOffsets.reduce((s, p) => s + Number(p.high) - Number(p.low), 0),
    domain,
    dlq: await recordsIn(admin, topics.dlq),
    rejected: await recordsIn(admin, topics.rejected),
    lag,
    ingressErrors: sumCounter(ingressText, METRICS.ingressRequests.name, (l) => /status="[45]\d\d"/.test(l)),
    deadLetters: sumCounter(processorText, METRICS.processorDeadLetters.name),
  };
}

export function formatStatus(s: PipelineStatus): string {
  const domainTotal = Object.values(s.domain).reduce((a, b) => a + b, 0);
  return (
    `raw ${s.raw} | domain ${domainTotal} | dlq ${s.dlq} | rejected ${s.rejected} | lag ${s.lag} | ` +
    `ingress 4xx/5xx ${s.ingressErrors} | dead letters ${s.deadLetters}`
  );
}
