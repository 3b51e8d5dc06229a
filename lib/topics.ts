/**
 * The topic plan: every topic nylas-stream owns, with partitions, replication and retention taken from
 * config. `ensureTopics` is idempotent: it creates what is missing and reports what differs.
 */
import { type Admin, ConfigResourceTypes, type ITopicConfig } from 'kafkajs';
import { DEFAULTS, type TopicsConfig } from './config';
import { isProtocolError } from './kafkajs/errors';

export interface TopicSpec {
  name: string;
  partitions: number;
  replicationFactor: number;
  configs: Record<string, string>;
  purpose: string;
  /** Shares keys (grant id) and partition numbers with the raw topic: raw, DLQ, state and domain
   * topics. `topics create` warns when their partition counts disagree. */
  coPartitioned?: boolean;
}

const DAY_MS = 86_400_000;

/**
 * Default largest record of the raw and domain topics (TOPIC_MAX_MESSAGE_BYTES). The broker default
 * (~1 MiB) is too small on both ends: the ingress accepts bodies up to INGRESS_MAX_BODY_BYTES (5 MiB by
 * default) — a signed notification Kafka refuses would get 503 on every attempt and be lost after Nylas's
 * third — and an expanded `.truncated` message is by definition over 1 MB (docs/nylas-contract.md
 * §4.1). The processor reads the same setting and keeps every domain event under it.
 */
export const MAX_RECORD_BYTES = DEFAULTS.topicMaxMessageBytes;

/** What the DLQ accepts beyond the raw topic: a dead letter is a raw record plus the dlq-* headers
 * (processors/dead-letter.ts: a message of at most 2000 characters and a few short values). */
export const DLQ_HEADER_ALLOWANCE_BYTES = 64 * 1024;

/**
 * The state and rejected topics hold small records of our own making (changelog buckets are cut at 256
 * KiB, rejected records carry a 2 KiB sample): Kafka's default limit (1 MiB + 12 bytes), set explicitly
 * so that a broker configured otherwise does not change it.
 */
export const SMALL_RECORD_TOPIC_BYTES = 1_048_588;

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

/**
 * min.insync.replicas for a replication factor: 2 from 3 copies on (one broker may be away, and acks=all
 * still means "more than one disk has it"); below that, undefined: the broker's default (1). The local
 * cluster (deploy/local) configures its brokers with the same rule.
 */
export function minInsyncReplicas(replicationFactor: number): number | undefined {
  return replicationFactor >= 3 ? 2 : undefined;
}

export function topicPlan(t: TopicsConfig): TopicSpec[] {
  const base = { partitions: t.partitions, replicationFactor: t.replicationFactor, coPartitioned: true };
  const minIsr = minInsyncReplicas(t.replicationFactor);
  const isr: Record<string, string> = minIsr === undefined ? {} : { 'min.insync.replicas': String(minIsr) };
  // Every topic says how large a record it takes, rather than inheriting the broker's default.
  const maxBytes = (n: number) => ({ 'max.message.bytes': String(n) });
  // The state changelog, the backfill and known-objects topics: small records of our own, kept by key.
  const compacted = {
    'cleanup.policy': 'compact',
    'min.compaction.lag.ms': '0',
    'segment.ms': String(DAY_MS),
    ...maxBytes(SMALL_RECORD_TOPIC_BYTES),
    ...isr,
  };
  return [
    {
      name: t.raw,
      ...base,
      // Replays reset offsets on this topic, so it must keep longer than Nylas's 72 h retry window.
      configs: { 'retention.ms': String(7 * DAY_MS), ...maxBytes(t.maxMessageBytes), ...isr },
      purpose: 'exact notification bytes from the ingress, key = grant id',
    },
    {
      name: t.rejected,
      partitions: 1,
      replicationFactor: t.replicationFactor,
      configs: { 'retention.ms': String(7 * DAY_MS), ...maxBytes(SMALL_RECORD_TOPIC_BYTES) },
      purpose: 'deliveries the ingress refused (bad signature, malformed), for diagnosis',
    },
    {
      name: t.dlq,
      ...base,
      configs: {
        'retention.ms': String(30 * DAY_MS),
        ...maxBytes(t.maxMessageBytes + DLQ_HEADER_ALLOWANCE_BYTES),
        ...isr,
      },
      purpose: 'notifications the processor could not handle, with the reason; re-drivable',
    },
    {
      name: t.state,
      ...base,
      // Compacted changelog of the processor's dedupe and version state (restored on assignment).
      configs: compacted,
      purpose: 'processor state changelog (compacted)',
    },
    {
      name: t.backfill,
      ...base,
      // Compacted: per grant its backfill state, plus facts and requests the coordinator tombstones once
      // applied (processors/backfill/records.ts). A grant's lifecycle must outlive any retention: a
      // grant can stay expired for weeks, and its re-authentication decides the backfill.
      configs: compacted,
      purpose: 'backfill coordinator: grant lifecycle facts, requests, progress (compacted)',
    },
    {
      name: t.knownObjects,
      ...base,
      // Compacted: one record per contact, calendar and folder that exists (tombstoned when deleted),
      // so a backfill's whole re-listing can tell which known objects are gone
      // (processors/backfill/known-objects.ts). Its size follows the accounts, not the traffic.
      configs: compacted,
      purpose: 'contacts, calendars and folders emitted as existing, for backfill reconciliation (compacted)',
    },
    ...domainTopicNames(t).map((name) => ({
      name,
      ...base,
      configs: { 'retention.ms': String(30 * DAY_MS), ...maxBytes(t.maxMessageBytes), ...isr },
      purpose: 'Avro domain events, key = grant id',
    })),
  ];
}

/** What a broker says about an existing topic, in the terms of a TopicSpec. */
export interface ActualTopic {
  name: string;
  partitions: number;
  replicationFactor: number;
  /** The topic's effective values of the configs we manage (defaults included). */
  configs: Record<string, string>;
}

export interface TopicDifference {
  topic: string;
  setting: 'partitions' | 'replication' | string;
  expected: string;
  actual: string;
  /** What it means and how to fix it, for the operator. */
  message: string;
}

/** Configs compared on existing topics: what the plan sets, plus cleanup.policy (a compacted raw topic
 * or a deleting state topic is wrong even when the plan leaves the key out). */
export function managedConfigNames(spec: TopicSpec): string[] {
  return [...new Set([...Object.keys(spec.configs), 'cleanup.policy'])];
}

function expectedConfig(spec: TopicSpec, name: string): string {
  return spec.configs[name] ?? (name === 'cleanup.policy' ? 'delete' : '');
}

/** How an existing topic differs from its spec (pure; ensureTopics feeds it what the broker says). */
export function topicDifferences(spec: TopicSpec, actual: ActualTopic): TopicDifference[] {
  const out: TopicDifference[] = [];
  if (actual.partitions !== spec.partitions) {
    out.push({
      topic: spec.name,
      setting: 'partitions',
      expected: String(spec.partitions),
      actual: String(actual.partitions),
      message:
        `${spec.name} has ${actual.partitions} partitions, config says ${spec.partitions}` +
        ' (raw, state, DLQ and domain topics must be co-partitioned; re-partitioning moves keys,' +
        ' so fix TOPIC_PARTITIONS or recreate the topic)',
    });
  }
  if (actual.replicationFactor !== spec.replicationFactor) {
    out.push({
      topic: spec.name,
      setting: 'replication',
      expected: String(spec.replicationFactor),
      actual: String(actual.replicationFactor),
      message:
        `${spec.name} has replication factor ${actual.replicationFactor}, config says ${spec.replicationFactor}` +
        ' (change it with a partition reassignment, or fix TOPIC_REPLICATION_FACTOR)',
    });
  }
  for (const name of managedConfigNames(spec)) {
    const expected = expectedConfig(spec, name);
    const got = actual.configs[name];
    if (got === undefined || got === expected) continue;
    out.push({
      topic: spec.name,
      setting: name,
      expected,
      actual: got,
      message:
        `${spec.name} has ${name}=${got}, config says ${expected}` +
        ` (kafka-configs.sh --alter --entity-type topics --entity-name ${spec.name} --add-config ${name}=${expected})`,
    });
  }
  return out;
}

/** Raw, DLQ, state and domain topics share keys (grant id) and partition numbers; the rejected topic
 * does not take part. Warns when the topics as they exist do not agree. */
export function coPartitioningWarnings(plan: TopicSpec[], partitionsByTopic: Map<string, number>): string[] {
  const members = plan.filter((s) => s.coPartitioned === true);
  const counts = new Map<number, string[]>();
  for (const s of members) {
    const n = partitionsByTopic.get(s.name);
    if (n === undefined) continue;
    counts.set(n, [...(counts.get(n) ?? []), s.name]);
  }
  if (counts.size <= 1) return [];
  const detail = [...counts.entries()].map(([n, names]) => `${n}: ${names.join(', ')}`).join('; ');
  return [
    `topics that must be co-partitioned have different partition counts (${detail}); the processor ` +
      'keeps per-partition state and publishes to the same partition number',
  ];
}

export interface EnsureTopicsResult {
  created: string[];
  existing: string[];
  /** Human-readable: one per difference, plus co-partitioning. */
  warnings: string[];
  differences: TopicDifference[];
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
    try {
      await admin.createTopics({ topics, waitForLeaders: true });
    } catch (err) {
      // Another `topics create` (or a service) created one of them meanwhile: that is the idempotent case.
      if (!isProtocolError(err, 'TOPIC_ALREADY_EXISTS')) throw err;
    }
  }
  const differences: TopicDifference[] = [];
  const partitionsByTopic = new Map<string, number>(missing.map((s) => [s.name, s.partitions]));
  if (present.length > 0) {
    const actual = await describeTopics(admin, present);
    for (const spec of present) {
      const a = actual.get(spec.name);
      if (!a) continue;
      partitionsByTopic.set(spec.name, a.partitions);
      differences.push(...topicDifferences(spec, a));
    }
  }
  const warnings = [...differences.map((d) => d.message), ...coPartitioningWarnings(plan, partitionsByTopic)];
  return { created: missing.map((s) => s.name), existing: present.map((s) => s.name), warnings, differences };
}

/** Partitions, replication factor and the managed configs of existing topics, as the broker has them. */
export async function describeTopics(admin: Admin, specs: TopicSpec[]): Promise<Map<string, ActualTopic>> {
  const out = new Map<string, ActualTopic>();
  if (specs.length === 0) return out;
  const meta = await admin.fetchTopicMetadata({ topics: specs.map((s) => s.name) });
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: specs.map((s) => ({
      type: ConfigResourceTypes.TOPIC,
      name: s.name,
      configNames: managedConfigNames(s),
    })),
  });
  for (const tm of meta.topics) {
    const resource = described.resources.find((r) => r.resourceName === tm.name);
    const configs: Record<string, string> = {};
    for (const e of resource?.configEntries ?? []) configs[e.configName] = e.configValue;
    out.set(tm.name, {
      name: tm.name,
      partitions: tm.partitions.length,
      replicationFactor: Math.max(0, ...tm.partitions.map((p) => p.replicas.length)),
      configs,
    });
  }
  return out;
}
