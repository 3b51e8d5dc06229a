/**
 * Helpers for tests that talk to the real broker and registry found by global-setup.ts: per-test
 * topic and group names, topic creation with cleanup, poll-until (never sleeps), and a collector
 * that reads a topic with a chosen isolation level.
 */
import type { Admin, Consumer, IHeaders, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { type CommonConfig, loadCommonConfig } from '../../lib/config';
import { createKafka } from '../../lib/kafka';
import { applyKafkajsAdaptations } from '../../lib/kafkajs';
import { silentLogger } from '../../lib/logger';
import { uniqueName } from './names';

/** Config pointing at the test infrastructure (env set by global-setup), with per-test overrides. */
export function testConfig(overrides: Record<string, string> = {}): CommonConfig {
  return loadCommonConfig({ ...process.env, LOG_LEVEL: 'silent', ...overrides });
}

/** A client of the test broker, with the kafkajs adaptations the services apply at start-up. */
export function testKafka(config: CommonConfig = testConfig(), suffix = 'test'): Kafka {
  applyKafkajsAdaptations(silentLogger());
  return createKafka(config.kafka, silentLogger(), suffix);
}

export { uniqueName };

export async function createTopics(
  admin: Admin,
  topics: string[],
  partitions = 1,
  configs: Record<string, string> = {},
): Promise<void> {
  await admin.createTopics({
    waitForLeaders: true,
    topics: topics.map((topic) => ({
      topic,
      numPartitions: partitions,
      replicationFactor: 1,
      configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })),
    })),
  });
}

/** A connected transactional producer, as the processors write (each commit adds a marker per partition). */
export async function transactionalProducer(kafka: Kafka, prefix: string): Promise<Producer> {
  const producer = kafka.producer({
    transactionalId: uniqueName(prefix),
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  return producer;
}

/**
 * A client and a connected admin for the tests of one describe block (connected in beforeAll), and
 * the topics they create: `topic()` makes one with a unique name, deleted in afterAll.
 */
export function brokerFixture(): {
  readonly kafka: Kafka;
  readonly admin: Admin;
  topic: (prefix: string, partitions?: number) => Promise<string>;
} {
  const made: string[] = [];
  const fixture = {
    kafka: undefined as unknown as Kafka,
    admin: undefined as unknown as Admin,
    topic: async (prefix: string, partitions = 1) => {
      const name = uniqueName(prefix);
      await createTopics(fixture.admin, [name], partitions);
      made.push(name);
      return name;
    },
  };
  beforeAll(async () => {
    fixture.kafka = testKafka();
    fixture.admin = fixture.kafka.admin();
    await fixture.admin.connect();
  });
  afterAll(async () => {
    await fixture.admin.deleteTopics({ topics: made }).catch(() => undefined);
    await fixture.admin.disconnect();
  });
  return fixture;
}

export interface PollOptions {
  timeoutMs?: number;
  intervalMs?: number;
  description?: string;
}

/** Calls `fn` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function pollUntil<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  options: PollOptions = {},
): Promise<T> {
  const { timeoutMs = 30_000, intervalMs = 100, description = 'condition' } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${description}${lastError ? `: ${String(lastError)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface CollectedRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
  timestamp: string;
}

/** Reads a topic from the beginning into memory until stopped. Used with pollUntil. */
export class TopicCollector {
  readonly records: CollectedRecord[] = [];
  private consumer: Consumer | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly topics: string[],
    private readonly isolation: 'read_committed' | 'read_uncommitted' = 'read_committed',
  ) {}

  async start(): Promise<this> {
    this.consumer = this.kafka.consumer({
      groupId: uniqueName('collector'),
      readUncommitted: this.isolation === 'read_uncommitted',
      maxWaitTimeInMs: 100,
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: this.topics, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({
        topic,
        partition,
        message,
      }: {
        topic: string;
        partition: number;
        message: KafkaMessage;
      }) => {
        this.records.push({
          topic,
          partition,
          offset: message.offset,
          key: message.key,
          value: message.value,
          headers: message.headers ?? {},
          timestamp: message.timestamp,
        });
      },
    });
    return this;
  }

  async waitFor(count: number, timeoutMs = 30_000): Promise<CollectedRecord[]> {
    return pollUntil(() => (this.records.length >= count ? this.records : undefined), {
      timeoutMs,
      description: `${count} records on ${this.topics.join(',')} (have ${this.records.length})`,
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}

/** Header value as a string (kafkajs gives Buffer | string | array): the raw record's own reader. */
export { headerText as headerString } from '../../lib/raw-record';
