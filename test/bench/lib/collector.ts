/**
 * Watches the domain topics the way a downstream team would (read_committed), and records for every
 * event the time from ingress receipt (the `received-at` header the processor carries from the raw
 * record; the same value as the event's `received_at` field) to the moment the event became visible.
 */
import type { Consumer, Kafka } from 'kafkajs';
import { uniqueName } from './infra';

export class CommitLatencyCollector {
  readonly latenciesMs: number[] = [];
  private consumer: Consumer | undefined;
  lastSeenAt = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly topics: string[],
  ) {}

  async start(): Promise<this> {
    const consumer = this.kafka.consumer({
      groupId: uniqueName('bench-e2e-watch'),
      readUncommitted: false,
      maxWaitTimeInMs: 50,
    });
    this.consumer = consumer;
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.connect();
    await consumer.subscribe({ topics: this.topics, fromBeginning: true });
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
    return this;
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
  }
}
