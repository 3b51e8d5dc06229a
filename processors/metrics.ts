/**
 * The processor's metrics, on an injected prom-client Registry, named exactly as in lib/metric-names.ts
 * (the catalog the Prometheus rules and the Grafana dashboard are built on). Labels are bounded: family,
 * outcome, reason, partition, kind — never ids.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { METRICS } from '../lib/metric-names';
import type { Restored } from './assignment/takeover';
import type { ExpandOutcome, ExpansionErrorReason, ExpansionObserver } from './stages/expand';
import type { StoreCounts } from './state/store';
import { DEAD_LETTER_REASONS, type DeadLetterReason, type TriggerFamily } from './types';

/** `body_omitted` is counted beside `emitted` for an event sent without its body (over the topic's limit). */
export type NotificationOutcome =
  | 'emitted'
  | 'duplicate'
  | 'stale'
  | 'expanded'
  | 'dead_lettered'
  | 'body_omitted';

/** A gauge whose value is read when Prometheus scrapes (`read` is called then, so it may follow a source
 * set later by a watch* method). */
function gaugeAtScrape(
  def: { name: string; help: string },
  registry: Registry,
  read: () => number,
): Gauge<string> {
  return new Gauge({
    name: def.name,
    help: def.help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

export class ProcessorMetrics implements ExpansionObserver {
  readonly notifications: Counter<'family' | 'outcome'>;
  readonly deadLetters: Counter<'reason'>;
  readonly expansionLatency: Histogram<'outcome'>;
  readonly expansionErrors: Counter<'reason'>;
  readonly endToEndLatency: Histogram<string>;
  readonly consumerLag: Gauge<'partition'>;
  readonly stateEntries: Gauge<'kind'>;
  readonly restoreSeconds: Histogram<string>;
  readonly restores: Counter<'mode'>;
  readonly restoredEntries: Counter<'mode'>;
  readonly stateDiskBytes: Gauge<string>;
  private stateDisk: () => number = () => 0;
  readonly stateFilterBytes: Gauge<string>;
  private stateFilter: () => number = () => 0;
  readonly transactions: Counter<'outcome'>;
  readonly roundPhase: Histogram<'phase'>;
  readonly consumerReplacements: Counter<string>;
  readonly partitionStalled: Gauge<'partition'>;
  readonly roundFailures: Counter<'kind'>;
  readonly queuedBytes: Gauge<string>;
  private queued: () => number = () => 0;
  readonly fetchPauses: Counter<'reason'>;
  readonly expansionHeldBytes: Gauge<string>;
  readonly expansionWaitingCalls: Gauge<string>;
  private expansionBudget: { heldBytes: number; waitingCalls: number } = { heldBytes: 0, waitingCalls: 0 };
  private readonly countsByPartition = new Map<number, StoreCounts>();

  constructor(readonly registry: Registry) {
    const m = METRICS;
    this.notifications = new Counter({
      name: m.processorNotifications.name,
      help: m.processorNotifications.help,
      labelNames: ['family', 'outcome'],
      registers: [registry],
    });
    this.deadLetters = new Counter({
      name: m.processorDeadLetters.name,
      help: m.processorDeadLetters.help,
      labelNames: ['reason'],
      registers: [registry],
    });
    // prom-client creates a labelled series only on its first increment; without a 0 sample, increase()
    // in the DLQ-growth alert cannot see the very first dead letter of a reason in a fresh process.
    for (const reason of DEAD_LETTER_REASONS) this.deadLetters.inc({ reason }, 0);
    this.expansionLatency = new Histogram({
      name: m.processorExpansionLatency.name,
      help: m.processorExpansionLatency.help,
      labelNames: ['outcome'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    });
    this.expansionErrors = new Counter({
      name: m.processorExpansionErrors.name,
      help: m.processorExpansionErrors.help,
      labelNames: ['reason'],
      registers: [registry],
    });
    this.endToEndLatency = new Histogram({
      name: m.processorEndToEndLatency.name,
      help: m.processorEndToEndLatency.help,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    });
    this.consumerLag = new Gauge({
      name: m.processorConsumerLag.name,
      help: m.processorConsumerLag.help,
      labelNames: ['partition'],
      registers: [registry],
    });
    this.stateEntries = new Gauge({
      name: m.processorStateEntries.name,
      help: m.processorStateEntries.help,
      labelNames: ['kind'],
      registers: [registry],
    });
    this.restoreSeconds = new Histogram({
      name: m.processorStateRestoreSeconds.name,
      help: m.processorStateRestoreSeconds.help,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [registry],
    });
    this.restores = new Counter({
      name: m.processorStateRestores.name,
      help: m.processorStateRestores.help,
      labelNames: ['mode'],
      registers: [registry],
    });
    this.restoredEntries = new Counter({
      name: m.processorStateRestoredEntries.name,
      help: m.processorStateRestoredEntries.help,
      labelNames: ['mode'],
      registers: [registry],
    });
    for (const mode of ['tail', 'full']) {
      this.restores.inc({ mode }, 0);
      this.restoredEntries.inc({ mode }, 0);
    }
    // Read at scrape time: a few stat() calls per assigned partition.
    this.stateDiskBytes = gaugeAtScrape(m.processorStateDiskBytes, registry, () => this.stateDisk());
    this.stateFilterBytes = gaugeAtScrape(m.processorStateFilterBytes, registry, () => this.stateFilter());
    this.transactions = new Counter({
      name: m.processorTransactions.name,
      help: m.processorTransactions.help,
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.consumerReplacements = new Counter({
      name: m.processorConsumerReplacements.name,
      help: m.processorConsumerReplacements.help,
      registers: [registry],
    });
    this.partitionStalled = new Gauge({
      name: m.processorPartitionStalled.name,
      help: m.processorPartitionStalled.help,
      labelNames: ['partition'],
      registers: [registry],
    });
    this.roundFailures = new Counter({
      name: m.processorRoundFailures.name,
      help: m.processorRoundFailures.help,
      labelNames: ['kind'],
      registers: [registry],
    });
    for (const kind of ['transient', 'countable']) this.roundFailures.inc({ kind }, 0);
    this.queuedBytes = gaugeAtScrape(m.processorQueuedBytes, registry, () => this.queued());
    this.expansionHeldBytes = gaugeAtScrape(
      m.processorExpansionHeldBytes,
      registry,
      () => this.expansionBudget.heldBytes,
    );
    this.expansionWaitingCalls = gaugeAtScrape(
      m.processorExpansionWaitingCalls,
      registry,
      () => this.expansionBudget.waitingCalls,
    );
    this.fetchPauses = new Counter({
      name: m.processorFetchPauses.name,
      help: m.processorFetchPauses.help,
      labelNames: ['reason'],
      registers: [registry],
    });
    for (const reason of ['partition_queue', 'process_budget']) this.fetchPauses.inc({ reason }, 0);
    this.roundPhase = new Histogram({
      name: m.processorRoundPhase.name,
      help: m.processorRoundPhase.help,
      labelNames: ['phase'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
  }

  notification(family: TriggerFamily | 'unknown', outcome: NotificationOutcome, n = 1): void {
    if (n > 0) this.notifications.inc({ family, outcome }, n);
  }

  /** Notifications handled since start, whatever their outcome (the idle memory release watches it:
   * processors/heap.ts). */
  async handled(): Promise<number> {
    const { values } = await this.notifications.get();
    return values.reduce((sum, v) => sum + v.value, 0);
  }

  /** A round's outcomes, counted once per (family, outcome): prom-client hashes the labels on every inc. */
  roundOutcomes(
    outcomes: ReadonlyArray<{ family: TriggerFamily | 'unknown'; outcome: NotificationOutcome }>,
  ): void {
    const counts = new Map<
      string,
      { family: TriggerFamily | 'unknown'; outcome: NotificationOutcome; n: number }
    >();
    for (const o of outcomes) {
      const key = `${o.family}\u0000${o.outcome}`;
      const c = counts.get(key);
      if (c) c.n++;
      else counts.set(key, { family: o.family, outcome: o.outcome, n: 1 });
    }
    for (const c of counts.values()) this.notification(c.family, c.outcome, c.n);
  }

  deadLetter(reason: DeadLetterReason): void {
    this.deadLetters.inc({ reason });
  }

  callFailed(reason: ExpansionErrorReason): void {
    this.expansionErrors.inc({ reason });
  }

  finished(outcome: ExpandOutcome['kind'], seconds: number): void {
    this.expansionLatency.observe({ outcome }, seconds);
  }

  progress(partition: number, lag: number, stalledSeconds: number): void {
    const labels = { partition: String(partition) };
    this.consumerLag.set(labels, Math.max(0, lag));
    this.partitionStalled.set(labels, stalledSeconds);
  }

  forgetPartition(partition: number): void {
    this.consumerLag.remove({ partition: String(partition) });
    this.partitionStalled.remove({ partition: String(partition) });
    this.countsByPartition.delete(partition);
    this.publishCounts();
  }

  /** Where the disk gauge reads from (the processor's store registry). */
  watchStateDisk(read: () => number): void {
    this.stateDisk = read;
  }

  /** Where the segment filters' gauge reads from (the registry's filter budget). */
  watchStateFilters(read: () => number): void {
    this.stateFilter = read;
  }

  /** Where the queued-bytes gauge reads from (the processor's queue budget). */
  watchQueuedBytes(read: () => number): void {
    this.queued = read;
  }

  /** The process's expansion budget (processors/expansion-budget.ts), read at each scrape. */
  watchExpansionBudget(budget: { heldBytes: number; waitingCalls: number }): void {
    this.expansionBudget = budget;
  }

  /** One restore's figures: its duration, and per partition its mode and the entries it applied. */
  restored(r: Restored<unknown>): void {
    this.restoreSeconds.observe(r.seconds);
    for (const mode of r.modes.values()) this.restores.inc({ mode });
    // Entries are counted per restore, not per partition: attributed to full when any partition was full.
    const mode = [...r.modes.values()].includes('full') ? 'full' : 'tail';
    this.restoredEntries.inc({ mode }, r.entries);
  }

  storeCounts(partition: number, counts: StoreCounts): void {
    this.countsByPartition.set(partition, counts);
    this.publishCounts();
  }

  private publishCounts(): void {
    const total = { dedupe: 0, version: 0, tombstone: 0 };
    for (const c of this.countsByPartition.values()) {
      total.dedupe += c.dedupe;
      total.version += c.version;
      total.tombstone += c.tombstone;
    }
    for (const [kind, v] of Object.entries(total)) this.stateEntries.set({ kind }, v);
  }
}
