/**
 * Watches the domain topics the way a downstream team would (read_committed), and records for every
 * event the time from ingress receipt (the `received-at` header the processor carries from the raw
 * record; the same value as the event's `received_at` field) to the moment the event became visible.
 *
 * One consumer per topic: a kafkajs consumer subscribed to the nine domain topics at once delivers
 * records ~650 ms (p50) after they are written even without transactions, while nine single-topic
 * consumers take ~11 ms (measured on the bench broker) — the measurement must not be the latency.
 */
import type { Consumer, Kafka } from 'kafkajs';
import { uniqueName } from './infra';

export class CommitLatencyCollector {
  readonly latenciesMs: number[] = [];
  private readonly consumers: Consumer[] = [];
  lastSeenAt = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly topics: string[],
  ) {}

  async start(): Promise<this> {
    await Promise.all(this.topics.map((topic) => this.watch(topic)));
    return this;
  }

  private async watch(topic: string): Promise<void> {
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
          const header = m.headers?.['received-at'];
          const receivedAt = Number(Buffer.isBuffer(header) ? header.toString('utf8') : header);
          if (Number.isFinite(receivedAt) && receivedAt > 0) this.latenciesMs.push(now - receivedAt);
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
