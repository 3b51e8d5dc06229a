/**
 * Owns the ingress's idempotent Kafka producer and replaces it when it can no longer be trusted.
 *
 * kafkajs's idempotent producer numbers the records it sends per partition. After a failed send it
 * rolls its sequence numbers back, but the broker may in fact have written the batch (a lost
 * response, a request timeout) or may have lost the producer's state (broker restart, producer-id
 * expiry). The next batch is then rejected as out of order forever (tulios/kafkajs#598) or, worse, a
 * different batch with the same sequence range is acknowledged as a "duplicate" without being
 * written. So any failed send retires the producer and a fresh one (new producer id, sequences from
 * zero) takes its place: "200 only after a write" never rests on a sequence number we are unsure of.
 *
 * Reconnection runs in the background with capped exponential backoff, so readiness recovers when the
 * broker does, with or without traffic. While a reconnect is waiting out its backoff, `acquire()`
 * fails at once (the request answers 503 immediately instead of holding a slot for the ack budget).
 */
import type { Producer } from 'kafkajs';
import { ErrorCodes, TransientError } from '../lib/errors';
import type { Logger } from '../lib/logger';

export interface ProducerSupervisorOptions {
  createProducer: () => Producer;
  logger: Logger;
  /** Called with true when a producer is connected and ready, false when it is lost. */
  onStateChange?: (up: boolean) => void;
  backoff?: { initialMs: number; maxMs: number };
}

export interface ProducerSource {
  acquire(): Promise<Producer>;
  /** `stillRunning`: a send we stopped waiting for; the producer is disconnected again when it ends,
   * because kafkajs's retry loop reconnects a producer that was disconnected under it. */
  markFailed(producer: Producer, err: unknown, stillRunning?: Promise<unknown>): void;
}

export class ProducerSupervisor implements ProducerSource {
  private current: Producer | undefined;
  private connecting: Promise<Producer> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private nextDelayMs = 0;
  private closed = false;
  private up = false;
  private readonly retired = new Set<Producer>();
  private readonly backoff: { initialMs: number; maxMs: number };

  constructor(private readonly options: ProducerSupervisorOptions) {
    this.backoff = options.backoff ?? { initialMs: 250, maxMs: 5000 };
  }

  /** Starts connecting in the background (the ingress serves challenges while Kafka is away). */
  start(): void {
    if (this.current === undefined && this.connecting === undefined) this.connect().catch(() => undefined);
  }

  isUp(): boolean {
    return this.up;
  }

  /** A connected producer; joins a connect in progress; fails at once during a backoff wait. */
  acquire(): Promise<Producer> {
    if (this.closed)
      return Promise.reject(new TransientError(ErrorCodes.SHUTTING_DOWN, 'the ingress is shutting down'));
    if (this.current !== undefined) return Promise.resolve(this.current);
    if (this.connecting !== undefined) return this.connecting;
    return Promise.reject(
      new TransientError(ErrorCodes.KAFKA_UNAVAILABLE, 'Kafka is unavailable; the producer is reconnecting'),
    );
  }

  /** Retires `producer` after a failed send and starts a replacement right away. */
  markFailed(producer: Producer, err: unknown, stillRunning?: Promise<unknown>): void {
    if (stillRunning !== undefined) {
      void stillRunning.catch(() => undefined).then(() => this.retire(producer));
    }
    if (producer !== this.current) return;
    this.options.logger.warn(
      { error: (err as Error)?.message ?? String(err) },
      'Kafka send failed; replacing the idempotent producer',
    );
    this.current = undefined;
    this.setUp(false);
    this.retire(producer);
    this.nextDelayMs = 0;
    this.scheduleReconnect();
  }

  /** Disconnects the producer (after a connect in progress settles) and stops reconnecting. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.connecting?.catch(() => undefined);
    const producer = this.current;
    this.current = undefined;
    this.setUp(false);
    await Promise.all([
      producer?.disconnect().catch(() => undefined),
      ...[...this.retired].map((p) => p.disconnect().catch(() => undefined)),
    ]);
  }

  private setUp(up: boolean): void {
    if (up === this.up) return;
    this.up = up;
    this.options.onStateChange?.(up);
  }

  private retire(producer: Producer): void {
    this.retired.add(producer);
    producer
      .disconnect()
      .catch(() => undefined)
      .finally(() => this.retired.delete(producer));
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer !== undefined || this.connecting !== undefined) return;
    const delay = this.nextDelayMs;
    this.nextDelayMs = Math.min(this.backoff.maxMs, Math.max(this.backoff.initialMs, this.nextDelayMs * 2));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect().catch(() => undefined);
    }, delay);
    this.retryTimer.unref();
  }

  private connect(): Promise<Producer> {
    const producer = this.options.createProducer();
    // Readiness follows the client's own events too: a disconnect of the live producer marks it down.
    producer.on(producer.events.DISCONNECT, () => {
      if (producer === this.current) {
        this.current = undefined;
        this.setUp(false);
        this.nextDelayMs = 0;
        this.scheduleReconnect();
      }
    });
    const attempt = producer
      .connect()
      .then(() => {
        if (this.closed) {
          this.retire(producer);
          throw new TransientError(ErrorCodes.SHUTTING_DOWN, 'the ingress is shutting down');
        }
        this.current = producer;
        this.nextDelayMs = 0;
        this.setUp(true);
        this.options.logger.info('Kafka producer connected');
        return producer;
      })
      .catch((err: unknown) => {
        if (err instanceof TransientError && err.code === ErrorCodes.SHUTTING_DOWN) throw err;
        this.retire(producer);
        this.options.logger.warn(
          {
            error: (err as Error)?.message ?? String(err),
            retryInMs: this.nextDelayMs || this.backoff.initialMs,
          },
          'Kafka producer cannot connect',
        );
        throw new TransientError(ErrorCodes.KAFKA_UNAVAILABLE, 'Kafka is unavailable', { cause: err });
      })
      .finally(() => {
        this.connecting = undefined;
        if (this.current === undefined) {
          if (this.nextDelayMs === 0) this.nextDelayMs = this.backoff.initialMs;
          this.scheduleReconnect();
        }
      });
    this.connecting = attempt;
    return attempt;
  }
}
