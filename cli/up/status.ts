/**
 * The live status line of `nylas-stream up`: records per topic, processor lag, and errors, read from
 * Kafka (records counted by reading them, group offsets) and from the services' own /metrics.
 */
import { randomBytes } from 'node:crypto';
import type { Admin, Consumer, Kafka } from 'kafkajs';
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

/**
 * Counts the records in topics by reading them (read_committed): the only count that is right on a
 * transactional topic, where commit markers take offsets (a processor transaction writes a record and
 * a marker in a partition, so high - low said "domain 2,324" for 1,999 events) and aborted records are
 * never read. A throwaway group that never commits, from the earliest offsets; each offset is counted
 * once even if the consumer rejoins and reads it again. The counts trail the topics by one fetch.
 */
export class RecordCounter {
  private readonly counts = new Map<string, number>();
  /** topic:partition → the next offset not counted yet. */
  private readonly next = new Map<string, number>();

  private constructor(
    private readonly consumer: Consumer,
    private readonly admin: Admin,
    private readonly groupId: string,
  ) {}

  static async start(kafka: Kafka, admin: Admin, topics: string[]): Promise<RecordCounter> {
    const groupId = `nylas-stream-up-status-${randomBytes(6).toString('hex')}`;
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 250, allowAutoTopicCreation: false });
    const counter = new RecordCounter(consumer, admin, groupId);
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const key = `${batch.topic}:${batch.partition}`;
        let next = counter.next.get(key) ?? 0;
        let n = 0;
        for (const m of batch.messages) {
          const offset = Number(m.offset);
          if (offset < next) continue;
          n += 1;
          next = offset + 1;
        }
        counter.next.set(key, next);
        counter.counts.set(batch.topic, (counter.counts.get(batch.topic) ?? 0) + n);
      },
    });
    return counter;
  }

  /** Committed records read from `topic` so far. */
  records(topic: string): number {
    return this.counts.get(topic) ?? 0;
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
    await this.admin.deleteGroups([this.groupId]).catch(() => undefined);
  }
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
  counter: RecordCounter,
  topics: TopicsConfig,
  groupId: string,
  urls: { ingressMetrics: string; processorMetrics: string },
): Promise<PipelineStatus> {
  const domain: Record<string, number> = {};
  for (const t of domainTopicNames(topics)) domain[t] = counter.records(t);
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
    raw: counter.records(topics.raw),
    domain,
    dlq: counter.records(topics.dlq),
    rejected: counter.records(topics.rejected),
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
