/**
 * The Sender: delivers notifications to one destination the way Nylas does (docs/nylas-contract.md
 * §2): POST with `Content-Type: application/json`, optional gzip, `X-Nylas-Signature` over the exact
 * bytes sent, no other headers (§9 #19); 200 = delivered; retries per retry-policy.ts with the same
 * `id`, the next `webhook_delivery_attempt` and a fresh signature (§2.3, §9 #8); destination health per
 * health.ts (§2.4). Every attempt and every outcome is recorded, so a test knows exactly what Nylas
 * would consider delivered.
 *
 * Time: retry delays, Retry-After and health windows run on the injected Clock (compress them with
 * scaledClock); the answer timeout and the send rate are wall-clock, because the receiver is real.
 */
import { EventEmitter } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import { type Logger, silentLogger } from '../../lib/logger';
import { type Clock, realClock } from '../clock';
import type { DestinationHandle } from '../management/webhooks';
import type { GeneratedNotification } from '../payloads/generator';
import { type NotificationEnvelope, PreparedNotification } from '../payloads/notification';
import { applyTruncation, DEFAULT_NOTIFICATION_BYTE_LIMIT, mustTruncate } from '../payloads/truncation';
import { SIGNATURE_HEADER } from '../signing';
import { Random } from '../world/random';
import { DestinationHealth, type HealthOptions, type HealthStatus } from './health';
import { exchange } from './http';
import {
  type AttemptResult,
  DEFAULT_RETRY_DELAYS_MS,
  DEFAULT_TIMEOUT_MS,
  judgeAttempt,
  MAX_ATTEMPTS,
  parseRetryAfterMs,
  retryDelayMs,
} from './retry-policy';

export interface SenderOptions {
  /** A fixed destination: URL and secret (§2.1: per-destination secret). */
  url?: string;
  secret?: string;
  /** §2.1 compressed_delivery: gzip the JSON, sign the gzip bytes. */
  compressed?: boolean;
  /** Or a live destination from the management API (current secret and status read at each attempt). */
  destination?: DestinationHandle;
  clock?: Clock;
  /** Wall-clock ms the destination has to answer (§2.1: 10 000). */
  timeoutMs?: number;
  /** Simulated ms before attempt 2 and 3 (§9 #2). */
  retryDelaysMs?: readonly number[];
  maxAttempts?: number;
  /** ±fraction of random spread on retry delays (default 0: exact, reproducible timings). */
  jitter?: number;
  /** Simultaneous requests in flight (default 16). */
  concurrency?: number;
  /** First attempts per wall-clock second (default unlimited). */
  ratePerSecond?: number;
  /** Share of notifications delivered twice as independent deliveries (at-least-once, §1). */
  duplicateRate?: number;
  /** Share of notifications moved later in the sending order (no ordering guarantee, §5). */
  reorderRate?: number;
  /** How many places a reordered notification moves at most (default 8). */
  reorderWindow?: number;
  seed?: number;
  /** §9 #3: Nylas requires exactly 200 by default; this accepts any 2xx. */
  acceptAny2xx?: boolean;
  /** §2.4 thresholds (simulated time); false disables health tracking. */
  health?: Partial<HealthOptions> | false;
  /** §4.1 / §9 #15 limit applied to message.* notifications passed in untruncated. */
  truncationLimitBytes?: number;
  logger?: Logger;
}

export type SendInput = NotificationEnvelope | PreparedNotification | GeneratedNotification;

export interface DeliveryAttempt {
  /** Which delivery (a duplicate is a second delivery of the same notification). */
  delivery: number;
  notificationId: string;
  type: string;
  /** 1-based; equals the body's `webhook_delivery_attempt`. */
  attempt: number;
  /** Simulated epoch ms when the request started. */
  startedAt: number;
  /** Simulated ms the sender chose to wait before this attempt: max(backoff, Retry-After); 0 for the
   * first. (`startedAt` differences also include real time scaled by the clock.) */
  scheduledDelayMs: number;
  /** Wall-clock ms until the answer (or the failure). */
  durationMs: number;
  result: 'response' | 'timeout' | 'connection_error' | 'skipped';
  status?: number;
  verdict: 'delivered' | 'retry' | 'give_up' | 'skipped';
  /** The X-Nylas-Signature sent with this attempt. */
  signature: string;
  bytes: number;
  compressed: boolean;
  retryAfterMs?: number;
  error?: string;
}

export type OutcomeReason =
  | 'delivered'
  | 'non_retriable_status'
  | 'retries_exhausted'
  | 'destination_failed'
  | 'destination_paused'
  | 'destination_deleted'
  | 'aborted';

export interface DeliveryOutcome {
  delivery: number;
  notificationId: string;
  type: string;
  delivered: boolean;
  reason: OutcomeReason;
  attempts: number;
  finalStatus?: number;
  /** True for the second delivery of a duplicated notification. */
  duplicate: boolean;
  firstAttemptAt?: number;
  lastAttemptAt?: number;
}

interface Delivery {
  index: number;
  prepared: PreparedNotification;
  duplicate: boolean;
}

class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly limit: number) {}
  async acquire(): Promise<void> {
    if (this.active < this.limit) {
      this.active += 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active -= 1;
  }
}

export class Sender extends EventEmitter {
  readonly attempts: DeliveryAttempt[] = [];
  readonly outcomes: DeliveryOutcome[] = [];
  private readonly clock: Clock;
  private readonly rng: Random;
  private readonly log: Logger;
  private readonly health: DestinationHealth | undefined;
  private readonly semaphore: Semaphore;
  private readonly agents: { http: http.Agent; https: https.Agent };
  private readonly abort = new AbortController();
  private deliveries = 0;
  private nextSlotAt = 0;
  private readonly options: SenderOptions;

  constructor(options: SenderOptions) {
    super();
    if (!options.destination && (options.url === undefined || options.secret === undefined))
      throw new TypeError('Sender needs either `destination` or both `url` and `secret`');
    this.options = options;
    this.clock = options.clock ?? realClock;
    this.rng = new Random(options.seed ?? 1);
    this.log = (options.logger ?? silentLogger()).child({ component: 'simulator-sender' });
    this.health = options.health === false ? undefined : new DestinationHealth(options.health ?? {});
    this.semaphore = new Semaphore(Math.max(1, options.concurrency ?? 16));
    const concurrency = Math.max(1, options.concurrency ?? 16);
    this.agents = {
      http: new http.Agent({ keepAlive: true, maxSockets: concurrency }),
      https: new https.Agent({ keepAlive: true, maxSockets: concurrency }),
    };
  }

  /** The destination's health as the sender sees it (§2.4). */
  get status(): HealthStatus | 'pause' | 'deleted' {
    const d = this.options.destination;
    if (d?.deleted) return 'deleted';
    if (d?.status === 'pause') return 'pause';
    if (d?.status === 'failed' || this.health?.status === 'failed') return 'failed';
    return this.health?.status ?? 'active';
  }

  /** Ids of notifications Nylas would consider delivered (at least one delivery answered 200). */
  deliveredIds(): Set<string> {
    const ids = new Set<string>();
    for (const o of this.outcomes) if (o.delivered) ids.add(o.notificationId);
    return ids;
  }

  /** Attempts of one notification, in order. */
  attemptsFor(notificationId: string): DeliveryAttempt[] {
    return this.attempts.filter((a) => a.notificationId === notificationId);
  }

  /**
   * Delivers the notifications (with injected reordering and duplicates) and resolves with one outcome
   * per delivery, in sending order, once every retry has finished. Accepts an array or any (async)
   * iterable: items are pulled only as sending slots free up, so a 200 000-notification run never holds
   * more than the in-flight and retrying deliveries in memory.
   */
  async send(input: SendInput | Iterable<SendInput> | AsyncIterable<SendInput>): Promise<DeliveryOutcome[]> {
    const running: Promise<DeliveryOutcome>[] = [];
    for await (const d of this.plan(toIterable(input))) {
      if (this.abort.signal.aborted) break;
      await this.semaphore.acquire();
      await this.rateSlot();
      running.push(this.deliver(d, true));
    }
    return Promise.all(running);
  }

  /** Stops pending retries (their outcome is `aborted`) and closes kept-alive connections. */
  close(): void {
    this.abort.abort(new Error('sender closed'));
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  private prepare(input: SendInput): PreparedNotification {
    let prepared: PreparedNotification;
    if (input instanceof PreparedNotification) prepared = input;
    else if ('envelope' in input && 'seq' in input) prepared = new PreparedNotification(input.envelope);
    else prepared = new PreparedNotification(input as NotificationEnvelope);
    const limit = this.options.truncationLimitBytes ?? DEFAULT_NOTIFICATION_BYTE_LIMIT;
    // §4.1: Nylas never sends a message.* payload over the limit; truncate what the caller did not.
    if (mustTruncate(prepared.type, prepared.bytes, limit))
      prepared = new PreparedNotification(applyTruncation(prepared.envelope, limit));
    return prepared;
  }

  /**
   * §5 no ordering guarantee, §1 at-least-once. Items pass through a window of `reorderWindow`; with
   * probability `reorderRate` a later item jumps ahead of the oldest. A duplicate re-enters the window,
   * so it arrives a little after its original.
   */
  private async *plan(items: AsyncIterable<SendInput> | Iterable<SendInput>): AsyncGenerator<Delivery> {
    const reorderRate = this.options.reorderRate ?? 0;
    const duplicateRate = this.options.duplicateRate ?? 0;
    const window = Math.max(1, this.options.reorderWindow ?? 8);
    const buffer: Array<{ prepared: PreparedNotification; duplicate: boolean }> = [];
    const emit = (): Delivery => {
      let i = 0;
      if (buffer.length > 1 && reorderRate > 0 && this.rng.chance(reorderRate))
        i = this.rng.int(1, buffer.length - 1);
      const [item] = buffer.splice(i, 1) as [{ prepared: PreparedNotification; duplicate: boolean }];
      if (!item.duplicate && duplicateRate > 0 && this.rng.chance(duplicateRate))
        buffer.push({ prepared: item.prepared, duplicate: true });
      return { index: this.deliveries++, prepared: item.prepared, duplicate: item.duplicate };
    };
    for await (const input of items) {
      buffer.push({ prepared: this.prepare(input), duplicate: false });
      while (buffer.length > (reorderRate > 0 ? window : 0)) yield emit();
    }
    while (buffer.length > 0) yield emit();
  }

  private async rateSlot(): Promise<void> {
    const rate = this.options.ratePerSecond;
    if (!rate || rate <= 0) return;
    const now = performance.now();
    const at = Math.max(now, this.nextSlotAt);
    this.nextSlotAt = at + 1000 / rate;
    if (at > now + 1) await realClock.sleep(at - now);
  }

  private destination(): { url: string; secret: string; compressed: boolean } {
    const d = this.options.destination;
    if (d) return { url: d.url, secret: d.secret, compressed: d.compressed };
    return {
      url: this.options.url as string,
      secret: this.options.secret as string,
      compressed: this.options.compressed ?? false,
    };
  }

  /** Runs every attempt of one delivery. The first attempt's concurrency slot is already held. */
  private async deliver(d: Delivery, slotHeld: boolean): Promise<DeliveryOutcome> {
    const maxAttempts = this.options.maxAttempts ?? MAX_ATTEMPTS;
    const outcome: DeliveryOutcome = {
      delivery: d.index,
      notificationId: d.prepared.id,
      type: d.prepared.type,
      delivered: false,
      reason: 'retries_exhausted',
      attempts: 0,
      duplicate: d.duplicate,
    };
    let holding = slotHeld;
    let delayBefore = 0;
    try {
      for (let attempt = 1; attempt <= maxAttempts; attempt++) {
        if (!holding) {
          await this.semaphore.acquire();
          holding = true;
        }
        const status = this.status;
        if (status === 'failed' || status === 'pause' || status === 'deleted') {
          // §2.4: nothing is delivered to a failed or paused destination, and nothing is replayed.
          outcome.reason = `destination_${status === 'pause' ? 'paused' : status}`;
          break;
        }
        const { verdict, retryAfterMs, httpStatus, startedAt } = await this.attempt(d, attempt, delayBefore);
        outcome.firstAttemptAt ??= startedAt;
        outcome.lastAttemptAt = startedAt;
        this.semaphore.release();
        holding = false;
        outcome.attempts = attempt;
        outcome.finalStatus = httpStatus;
        if (verdict === 'delivered') {
          outcome.delivered = true;
          outcome.reason = 'delivered';
          break;
        }
        if (verdict === 'give_up') {
          outcome.reason = 'non_retriable_status';
          break;
        }
        if (attempt === maxAttempts) {
          // §2.3 / §9 #17: after the last attempt this one notification is dropped; others continue.
          outcome.reason = 'retries_exhausted';
          break;
        }
        const delay: number = retryDelayMs(attempt, {
          delaysMs: this.options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS,
          retryAfterMs,
          jitter: this.options.jitter ?? 0,
          unit: this.rng.next(),
        });
        delayBefore = delay;
        try {
          await this.clock.sleep(delay, this.abort.signal);
        } catch {
          outcome.reason = 'aborted';
          break;
        }
      }
    } finally {
      if (holding) this.semaphore.release();
    }
    this.outcomes.push(outcome);
    this.emit('outcome', outcome);
    return outcome;
  }

  private async attempt(
    d: Delivery,
    attempt: number,
    scheduledDelayMs: number,
  ): Promise<{
    verdict: 'delivered' | 'retry' | 'give_up';
    retryAfterMs?: number;
    httpStatus?: number;
    startedAt: number;
  }> {
    const dest = this.destination();
    // Re-signed on every attempt with the destination's current secret (§2.3, §6.3 rotation is immediate).
    const { body, signature } = d.prepared.signedFor(attempt, dest.secret, dest.compressed);
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      [SIGNATURE_HEADER]: signature,
    };
    if (dest.compressed) headers['Content-Encoding'] = 'gzip';
    const startedAt = this.clock.now();
    const r = await exchange({
      method: 'POST',
      url: dest.url,
      headers,
      body,
      timeoutMs: this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      agents: this.agents,
      maxResponseBytes: 1024,
    });
    const result: AttemptResult =
      r.kind === 'response'
        ? { kind: 'response', status: r.status, retryAfter: headerString(r.headers['retry-after']) }
        : { kind: r.kind };
    const verdict = judgeAttempt(result, { acceptAny2xx: this.options.acceptAny2xx });
    const retryAfterMs =
      result.kind === 'response' ? parseRetryAfterMs(result.retryAfter, this.clock.now()) : undefined;
    const record: DeliveryAttempt = {
      delivery: d.index,
      notificationId: d.prepared.id,
      type: d.prepared.type,
      attempt,
      startedAt,
      scheduledDelayMs,
      durationMs: r.durationMs,
      result: r.kind,
      status: r.kind === 'response' ? r.status : undefined,
      verdict,
      signature,
      bytes: body.length,
      compressed: dest.compressed,
      retryAfterMs,
      error: r.kind === 'response' ? undefined : r.message,
    };
    this.attempts.push(record);
    this.emit('attempt', record);
    if (this.health) {
      const before = this.health.status;
      const after = this.health.record(this.clock.now(), verdict === 'delivered');
      if (after !== before) {
        this.log.warn({ from: before, to: after }, 'destination health changed');
        this.options.destination?.reportStatus(after);
        this.emit('status', after);
      }
    }
    return { verdict, retryAfterMs, httpStatus: record.status, startedAt };
  }
}

function toIterable(
  input: SendInput | Iterable<SendInput> | AsyncIterable<SendInput>,
): Iterable<SendInput> | AsyncIterable<SendInput> {
  if (input instanceof PreparedNotification) return [input];
  if (typeof (input as Iterable<SendInput>)[Symbol.iterator] === 'function')
    return input as Iterable<SendInput>;
  if (typeof (input as AsyncIterable<SendInput>)[Symbol.asyncIterator] === 'function')
    return input as AsyncIterable<SendInput>;
  return [input as SendInput];
}

function headerString(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
