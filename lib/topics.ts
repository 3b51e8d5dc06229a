/**
 * The topic plan: every topic nylas-stream owns, with partitions, replication and retention taken from
 * config. `ensureTopics` is idempotent: it creates what is missing and reports what differs.
 */
import type { Admin, ITopicConfig } from 'kafkajs';
import type { TopicsConfig } from './config';

export interface TopicSpec {
  name: string;
  partitions: number;
  replicationFactor: number;
  configs: Record<string, string>;
  purpose: string;
}

const DAY_MS = 86_400_000;

export function domainTopicNames(t: TopicsConfig): string[] {
  return [
    t.emailMessages,
    t.emailFolders,
    t.emailTracking,
    t.emailDelivery,
    t.calendarEvents,
    t.calendarCalendars,
    t.contacts,
    t.grants,
    t.unmodeled,
  ];
}

export function topicPlan(t: TopicsConfig): TopicSpec[] {
  const base = { partitions: t.partitions, replicationFactor: t.replicationFactor };
  // min.insync.replicas only makes sense below the replication factor; with acks=all it is what
  // makes "Kafka has it" mean "more than one disk has it" in production.
  const isr: Record<string, string> = t.replicationFactor >= 3 ? { 'min.insync.replicas': '2' } : {};
  return [
    {
      name: t.raw,
      ...base,
      // Replays reset offsets on this topic, so it must keep longer than Nylas's 72 h retry window.
      configs: { 'retention.ms': String(7 * DAY_MS), ...isr },
      purpose: 'exact notification bytes from the ingress, key = grant id',
    },
    {
      name: t.rejected,
      partitions: 1,
      replicationFactor: t.replicationFactor,
      configs: { 'retention.ms': String(7 * DAY_MS) },
      purpose: 'deliveries the ingress refused (bad signature, malformed), for diagnosis',
    },
    {
      name: t.dlq,
      ...base,
      configs: { 'retention.ms': String(30 * DAY_MS), ...isr },
      purpose: 'notifications the processor could not handle, with the reason; re-drivable',
    },
    {
      name: t.state,
      ...base,
      // Compacted changelog of the processor's dedupe and version state (restored on assignment).
      configs: {
        'cleanup.policy': 'compact',
        'min.compaction.lag.ms': '0',
        'segment.ms': String(DAY_MS),
        ...isr,
      },
      purpose: 'processor state changelog (compacted)',
    },
    ...domainTopicNames(t).map((name) => ({
      name,
      ...base,
      configs: { 'retention.ms': String(30 * DAY_MS), ...isr },
      purpose: 'Avro domain events, key = grant id',
    })),
  ];
}

export interface EnsureTopicsResult {
  created: string[];
  existing: string[];
  warnings: string[];
}

export async function ensureTopics(admin: Admin, plan: TopicSpec[]): Promise<EnsureTopicsResult> {
  const existingNames = new Set(await admin.listTopics());
  const missing = plan.filter((s) => !existingNames.has(s.name));
  const present = plan.filter((s) => existingNames.has(s.name));
  if (missing.length > 0) {
    const topics: ITopicConfig[] = missing.map((s) => ({
      topic: s.name,
      numPartitions: s.partitions,
      replicationFactor: s.replicationFactor,
      configEntries: Object.entries(s.configs).map(([name, value]) => ({ name, value })),
    }));
    await admin.createTopics({ topics, waitForLeaders: true });
  }
  const warnings: string[] = [];
  if (present.length > 0) {
    const meta = await admin.fetchTopicMetadata({ topics: present.map((s) => s.name) });
    for (const tm of meta.topics) {
      const spec = plan.find((s) => s.name === tm.name);
      if (spec && tm.partitions.length !== spec.partitions) {
        warnings.push(
          `${tm.name} has ${tm.partitions.length} partitions, config says ${spec.partitions}` +
            ' (raw and domain topics must be co-partitioned; re-partitioning moves keys)',
        );
      }
    }
  }
  return { created: missing.map((s) => s.name), existing: present.map((s) => s.name), warnings };
}
