/**
 * Watches the domain topics the way a downstream team would (read_committed, Avro values), and records
 * for every event the time from ingress receipt (the event's `received_at` field, which the processor
 * copies from the raw record's `received-at` header) to the moment the event became visible.
 *
 * One consumer per topic: a kafkajs consumer subscribed to the nine domain topics at once delivers
 * records far later after they are written, even without transactions, than nine single-topic consumers
 * do (figures in docs/benchmarks.md) — the measurement must not be the latency.
 */
import type avro from 'avsc';
import type { Consumer, Kafka } from 'kafkajs';
import type { TopicsConfig } from '../../../lib/config';
import { DOMAIN_SCHEMA_NAMES, DOMAIN_SCHEMA_TOPICS, schemaByName } from '../../../schemas/index';
import { uniqueName } from './infra';

/** Confluent framing: magic byte and 4-byte schema id before the Avro body. */
const WIRE_HEADER_BYTES = 5;

export class CommitLatencyCollector {
  readonly latenciesMs: number[] = [];
  /** When each latency was seen (ms since epoch), same order as latenciesMs. */
  readonly seenAt: number[] = [];
  /** The partition each event was on (domain topics are co-partitioned with the raw topic). */
  readonly partitions: number[] = [];
  private readonly consumers: Consumer[] = [];
  /** Domain topic → the Avro type its values are written with. */
  private readonly types = new Map<string, avro.Type>();
  lastSeenAt = 0;

  constructor(
    private readonly kafka: Kafka,
    topics: TopicsConfig,
  ) {
    for (const name of DOMAIN_SCHEMA_NAMES) {
      this.types.set(String(topics[DOMAIN_SCHEMA_TOPICS[name]]), schemaByName(name).type);
    }
  }

  /** Forgets what was recorded so far. */
  reset(): void {
    this.latenciesMs.length = 0;
    this.seenAt.length = 0;
    this.partitions.length = 0;
  }

  async start(): Promise<this> {
    await Promise.all([...this.types].map(([topic, type]) => this.watch(topic, type)));
    return this;
  }

  private async watch(topic: string, type: avro.Type): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: uniqueName('bench-e2e-watch'),
      readUncommitted: false,
      maxWaitTimeInMs: 100,
    });
    this.consumers.push(consumer);
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      partitionsConsumedConcurrently: 4,
      eachBatch: async ({ batch }) => {
        const now = Date.now();
        for (const m of batch.messages) {
          if (m.value === null) continue;
          const event = type.decode(m.value, WIRE_HEADER_BYTES).value as
            | { received_at?: unknown }
            | undefined;
          const receivedAt = Number(event?.received_at);
          if (Number.isFinite(receivedAt) && receivedAt > 0) {
            this.latenciesMs.push(now - receivedAt);
            this.seenAt.push(now);
            this.partitions.push(batch.partition);
          }
        }
        this.lastSeenAt = now;
      },
    });
    await joined;
  }

  async stop(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.disconnect().catch(() => undefined)));
  }
}
