/**
 * The backfill coordinator's metrics, on the processor's registry, named as in lib/metric-names.ts.
 * Labels are bounded (reason, outcome, listing, family, state): never grant or request ids.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { METRICS } from '../../lib/metric-names';
import { RECONCILED_FAMILIES } from './known-objects';
import type { CallOutcome } from './page-runner';
import type { BackfillReason } from './records';

export class BackfillMetrics {
  readonly requests: Counter<'reason'>;
  readonly notRequested: Counter<'why'>;
  readonly finished: Counter<'reason' | 'outcome'>;
  readonly pages: Counter<'listing'>;
  readonly objects: Counter<'family'>;
  readonly reconciledDeletes: Counter<'family'>;
  readonly apiCalls: Counter<'listing' | 'outcome'>;
  readonly inputsRejected: Counter<'kind'>;
  /** Read at scrape time: the coordinator's running backfills (epoch ms they started, blocked or not). */
  private running: () => Array<{ startedAt: number; blocked: boolean }> = () => [];

  constructor(registry: Registry, now: () => number = Date.now) {
    const m = METRICS;
    this.requests = new Counter({
      ...spec(m.backfillRequests),
      labelNames: ['reason'],
      registers: [registry],
    });
    this.notRequested = new Counter({
      ...spec(m.backfillNotRequested),
      labelNames: ['why'],
      registers: [registry],
    });
    this.finished = new Counter({
      ...spec(m.backfillFinished),
      labelNames: ['reason', 'outcome'],
      registers: [registry],
    });
    this.pages = new Counter({ ...spec(m.backfillPages), labelNames: ['listing'], registers: [registry] });
    this.objects = new Counter({ ...spec(m.backfillObjects), labelNames: ['family'], registers: [registry] });
    this.reconciledDeletes = new Counter({
      ...spec(m.backfillReconciledDeletes),
      labelNames: ['family'],
      registers: [registry],
    });
    this.apiCalls = new Counter({
      ...spec(m.backfillApiCalls),
      labelNames: ['listing', 'outcome'],
      registers: [registry],
    });
    this.inputsRejected = new Counter({
      ...spec(m.backfillInputsRejected),
      labelNames: ['kind'],
      registers: [registry],
    });
    // Zero samples, so increase() in rules sees the first event of each series.
    for (const reason of ['reauthentication', 'first_auth', 'manual'] satisfies BackfillReason[]) {
      this.requests.inc({ reason }, 0);
      for (const outcome of ['completed', 'failed', 'cancelled']) this.finished.inc({ reason, outcome }, 0);
    }
    for (const family of RECONCILED_FAMILIES) this.reconciledDeletes.inc({ family }, 0);
    const self = this;
    new Gauge({
      ...spec(m.backfillRunning),
      labelNames: ['state'],
      registers: [registry],
      collect() {
        const all = self.running();
        this.set({ state: 'active' }, all.filter((r) => !r.blocked).length);
        this.set({ state: 'blocked' }, all.filter((r) => r.blocked).length);
      },
    });
    new Gauge({
      ...spec(m.backfillOldestRunning),
      registers: [registry],
      collect() {
        const oldest = Math.min(...self.running().map((r) => r.startedAt));
        this.set(Number.isFinite(oldest) ? Math.max(0, (now() - oldest) / 1000) : 0);
      },
    });
  }

  watchRunning(source: () => Array<{ startedAt: number; blocked: boolean }>): void {
    this.running = source;
  }

  call(listing: string, outcome: CallOutcome): void {
    this.apiCalls.inc({ listing, outcome });
  }
}

function spec(m: { name: string; help: string }): { name: string; help: string } {
  return { name: m.name, help: m.help };
}
