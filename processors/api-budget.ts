/**
 * The Nylas API budget of one processor instance, shared by everything that calls the API: the expand
 * stage (truncated messages) and the backfill coordinator (list calls). Nylas limits calls per grant
 * (docs/nylas-contract.md §4.2, "Rate limits"), and the grant's quota is the customer's too, so both
 * callers draw from one pool of slots and obey one cool-down per grant: a 429 seen by a backfill holds
 * the grant's expansions back, and the other way round.
 */

/** A counting semaphore, FIFO. */
export class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];
  constructor(size: number) {
    this.free = size;
  }
  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

/** Grants told to wait (a 429 with Retry-After). An entry removes itself when it expires, so the map
 * holds only grants cooling down now, not every grant ever rate-limited. */
export class GrantCooldowns {
  private readonly notBefore = new Map<string, { until: number; timer: NodeJS.Timeout }>();
  constructor(private readonly now: () => number = Date.now) {}

  /** Milliseconds the grant must still wait (≤ 0: none). */
  left(grantId: string): number {
    return (this.notBefore.get(grantId)?.until ?? 0) - this.now();
  }

  /** Extends the grant's cool-down to `until` (epoch ms). */
  coolDown(grantId: string, until: number): void {
    const before = this.notBefore.get(grantId);
    if (before !== undefined && before.until >= until) return;
    if (before !== undefined) clearTimeout(before.timer);
    const timer = setTimeout(() => this.notBefore.delete(grantId), Math.max(0, until - this.now()));
    timer.unref();
    this.notBefore.set(grantId, { until, timer });
  }

  get size(): number {
    return this.notBefore.size;
  }

  clear(): void {
    for (const { timer } of this.notBefore.values()) clearTimeout(timer);
    this.notBefore.clear();
  }
}

export interface ApiBudget {
  /** EXPANSION_CONCURRENCY: calls in flight at once over the instance. */
  slots: Slots;
  cooldowns: GrantCooldowns;
}

export function apiBudget(concurrency: number, now: () => number = Date.now): ApiBudget {
  return { slots: new Slots(concurrency), cooldowns: new GrantCooldowns(now) };
}
