/**
 * Everything a processor integration test needs against the real broker and registry: its own topics
 * (TOPIC_* overrides, unique names), its own consumer group, the simulator's Nylas API for expansion, a
 * producer for raw records, collectors for the outputs, and a decoder for domain events that does not use
 * our encoder: it fetches the writer schema by id from the registry over HTTP and decodes with avsc.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import avro from 'avsc';
import type { Admin, Kafka, Message, Producer } from 'kafkajs';
import { createLogger } from '../../lib/logger';
import { domainTopicNames, topicPlan } from '../../lib/topics';
import { loadProcessorConfig, type ProcessorConfig } from '../../processors/config';
import { type RunningProcessor, type StartProcessorOptions, startProcessor } from '../../processors/index';
import { StoreRegistry } from '../../processors/state/registry';
import type { PartitionStore } from '../../processors/state/store';
import {
  createWorld,
  type NylasApiServer,
  startNylasApi,
  type World,
  type WorldOptions,
} from '../../simulator';
import {
  type CollectedRecord,
  headerString,
  pollUntil,
  TopicCollector,
  testKafka,
  uniqueName,
} from './kafka';

export const API_KEY = 'processor-test-key';

export interface DecodedEvent {
  schemaId: number;
  value: Record<string, unknown>;
  record: CollectedRecord;
}

/** Writer schemas by id, as promises: thousands of events decoded at once share one registry fetch. */
const writerSchemas = new Map<number, Promise<avro.Type>>();

async function fetchWriterSchema(schemaId: number): Promise<avro.Type> {
  const res = await fetch(`${process.env.SCHEMA_REGISTRY_URL}/schemas/ids/${schemaId}`);
  if (!res.ok) throw new Error(`registry answered ${res.status} for schema id ${schemaId}`);
  const body = (await res.json()) as { schema: string };
  return avro.Type.forSchema(JSON.parse(body.schema));
}

/** Decodes a domain event independently of processors/stages/publish.ts (registry by id + avsc). */
export async function decodeDomainEvent(record: CollectedRecord): Promise<DecodedEvent> {
  const buf = record.value as Buffer;
  if (buf.readUInt8(0) !== 0) throw new Error(`magic byte ${buf.readUInt8(0)}`);
  const schemaId = buf.readUInt32BE(1);
  let type = writerSchemas.get(schemaId);
  if (!type) {
    type = fetchWriterSchema(schemaId);
    writerSchemas.set(schemaId, type);
    // A failed fetch is not remembered: the next decode asks again.
    type.catch(() => writerSchemas.delete(schemaId));
  }
  return { schemaId, value: (await type).fromBuffer(buf.subarray(5)) as Record<string, unknown>, record };
}

export interface HarnessOptions {
  partitions?: number;
  grants?: number;
  /** The simulated world's start, Unix seconds (default now): backfill tests start it days ago. */
  worldStart?: number;
  /** Objects per grant the world starts with (simulator defaults otherwise). */
  initialObjects?: WorldOptions['initialObjects'];
  env?: Record<string, string>;
}

export class ProcessorHarness {
  readonly kafka: Kafka;
  readonly env: Record<string, string>;
  readonly config: ProcessorConfig;
  admin!: Admin;
  producer!: Producer;
  api!: NylasApiServer;
  readonly world: World;
  private readonly running: RunningProcessor[] = [];
  private readonly collectors: TopicCollector[] = [];

  constructor(readonly options: HarnessOptions = {}) {
    const prefix = uniqueName('proc');
    this.world = createWorld({
      seed: 11,
      grants: options.grants ?? 4,
      ...(options.worldStart !== undefined ? { startTime: options.worldStart } : {}),
      ...(options.initialObjects !== undefined ? { initialObjects: options.initialObjects } : {}),
    });
    this.env = {
      TOPIC_RAW: `${prefix}.raw`,
      TOPIC_REJECTED: `${prefix}.rejected`,
      TOPIC_DLQ: `${prefix}.dlq`,
      TOPIC_STATE: `${prefix}.state`,
      TOPIC_BACKFILL: `${prefix}.backfill`,
      TOPIC_KNOWN_OBJECTS: `${prefix}.known-objects`,
      TOPIC_EMAIL_MESSAGES: `${prefix}.email.messages`,
      TOPIC_EMAIL_FOLDERS: `${prefix}.email.folders`,
      TOPIC_EMAIL_TRACKING: `${prefix}.email.tracking`,
      TOPIC_EMAIL_DELIVERY: `${prefix}.email.delivery`,
      TOPIC_CALENDAR_EVENTS: `${prefix}.calendar.events`,
      TOPIC_CALENDAR_CALENDARS: `${prefix}.calendar.calendars`,
      TOPIC_CONTACTS: `${prefix}.contacts`,
      TOPIC_GRANTS: `${prefix}.grants`,
      TOPIC_UNMODELED: `${prefix}.unmodeled`,
      TOPIC_PARTITIONS: String(options.partitions ?? 1),
      PROCESSOR_GROUP_ID: `${prefix}-group`,
      NYLAS_API_KEY: API_KEY,
      NYLAS_API_URI: 'http://127.0.0.1:1',
      PROCESSOR_METRICS_PORT: '0',
      LOG_LEVEL: process.env.PROCESSOR_TEST_LOG_LEVEL ?? 'silent',
      EXPANSION_BACKOFF_BASE: '50ms',
      EXPANSION_BACKOFF_MAX: '500ms',
      EXPANSION_DEADLINE: '10s',
      PROCESSOR_SESSION_TIMEOUT_MS: '10000',
      ...options.env,
    };
    this.config = loadProcessorConfig({ ...process.env, ...this.env });
    this.kafka = testKafka(this.config, 'processor-test');
  }

  get topics() {
    return this.config.topics;
  }

  async setUp(): Promise<this> {
    this.api = await startNylasApi({ world: this.world, apiKey: API_KEY, port: 0 });
    this.env.NYLAS_API_URI = this.api.url;
    this.admin = this.kafka.admin();
    await this.admin.connect();
    const t = this.topics;
    const n = this.options.partitions ?? 1;
    const all = [t.raw, t.dlq, t.state, t.backfill, t.knownObjects, ...domainTopicNames(t)];
    // Record size limits and compaction as `topics create` sets them: the processor keeps its outputs
    // under the limits.
    const plan = new Map(topicPlan(t).map((s) => [s.name, s.configs]));
    // Created without waitForLeaders: kafkajs only retries LEADER_NOT_AVAILABLE there, while a KRaft
    // broker may answer UNKNOWN_TOPIC_OR_PARTITION for a moment; poll the metadata instead.
    await this.admin.createTopics({
      waitForLeaders: false,
      topics: all.map((topic) => ({
        topic,
        numPartitions: n,
        replicationFactor: 1,
        configEntries: [
          { name: 'max.message.bytes', value: plan.get(topic)?.['max.message.bytes'] as string },
          ...(plan.get(topic)?.['cleanup.policy'] === 'compact'
            ? [
                { name: 'cleanup.policy', value: 'compact' },
                { name: 'min.compaction.lag.ms', value: '0' },
              ]
            : []),
        ],
      })),
    });
    await pollUntil(
      async () => {
        const meta = await this.admin.fetchTopicMetadata({ topics: all });
        return meta.topics.every(
          (tm) => tm.partitions.length === n && tm.partitions.every((p) => p.leader >= 0),
        );
      },
      { description: 'topic leaders' },
    );
    this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.producer.connect();
    return this;
  }

  /** Processor config for this harness, with overrides. */
  processorConfig(overrides: Record<string, string> = {}): ProcessorConfig {
    return loadProcessorConfig({ ...process.env, ...this.env, ...overrides });
  }

  /**
   * Starts a processor. Each one gets a state directory of its own, as if on its own machine (a takeover
   * restores the whole changelog); pass PROCESSOR_STATE_DIR to start one on an earlier one's disk.
   */
  async startProcessor(
    overrides: Record<string, string> = {},
    options: StartProcessorOptions = {},
  ): Promise<RunningProcessor> {
    const stateDir = overrides.PROCESSOR_STATE_DIR ?? newStateDir();
    const running = await startProcessor(
      this.processorConfig({ ...overrides, PROCESSOR_STATE_DIR: stateDir }),
      { http: false, ...options },
    );
    this.running.push(running);
    return running;
  }

  /** Opens the store a processor of this harness kept for `partition` in `stateDir` (the processor must
   * be stopped or dead: its database admits one process at a time). `close` closes it and the database. */
  async openStore(
    stateDir: string,
    partition: number,
  ): Promise<{ store: PartitionStore; close: () => Promise<void> }> {
    const stores = new StoreRegistry({
      dir: stateDir,
      groupId: this.config.groupId,
      topic: this.topics.raw,
      windowMs: this.config.dedupeWindowMs,
      cacheEntries: this.config.state.cacheEntries,
      filterBytes: this.config.state.filterBytes,
      logger: createLogger({ name: 'processor', level: 'silent' }),
    });
    return { store: await stores.get(partition), close: () => stores.closeAll() };
  }

  async produce(messages: Message[]): Promise<void> {
    await this.producer.send({ topic: this.topics.raw, acks: -1, messages });
  }

  async collect(topics: string[], isolation: 'read_committed' | 'read_uncommitted' = 'read_committed') {
    const c = await new TopicCollector(this.kafka, topics, isolation).start();
    this.collectors.push(c);
    return c;
  }

  async tearDown(): Promise<void> {
    for (const r of this.running) await r.stop().catch(() => undefined);
    for (const c of this.collectors) await c.stop().catch(() => undefined);
    await this.producer?.disconnect().catch(() => undefined);
    const t = this.topics;
    await this.admin
      ?.deleteTopics({ topics: [t.raw, t.dlq, t.state, ...domainTopicNames(t)] })
      .catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
    await this.api?.close().catch(() => undefined);
  }
}

/** A fresh directory for one processor's state stores, under the test run's (global-setup.ts). */
export function newStateDir(): string {
  const base = process.env.PROCESSOR_STATE_DIR ?? tmpdir();
  mkdirSync(base, { recursive: true });
  return mkdtempSync(join(base, 'processor-'));
}

/** Records whose nylas-notification-id header is `id`. */
export function byNotification(records: CollectedRecord[], id: string): CollectedRecord[] {
  return records.filter((r) => headerString(r.headers, 'nylas-notification-id') === id);
}
