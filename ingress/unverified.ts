/**
 * The budget for bodies not yet verified: what a stranger can make the ingress hold. The signature is an
 * HMAC over the whole body, so a body must be read before anyone knows whether it came from Nylas; what
 * is bounded instead is how many bytes all such bodies hold together (`capacityBytes`, separate from the
 * verified bytes waiting for Kafka) and, with the body deadline, for how long.
 *
 * Each request being read is charged `perRequestBytes` plus the bytes received so far, so header-only
 * stalls count too and the number of such requests is bounded (capacity / perRequestBytes). When a
 * newcomer does not fit, the OLDEST holders are cut (their request is answered 503 and closed) until it
 * does — never the newcomer. Nylas sends the whole body at once, so a real delivery holds its bytes for
 * milliseconds and is never the oldest; a flood of strangers stalling before their last bytes therefore
 * evicts itself, and a signed delivery always gets in. (Refusing newcomers instead would let whoever
 * filled the budget first starve every later delivery.) To evict a real delivery an attacker would have
 * to push `capacityBytes` of new bodies during the few milliseconds that delivery takes to arrive.
 */
export interface UnverifiedHold {
  /** Bytes of the body received; may cut older holders to make room. */
  add(bytes: number): void;
  /** The body was verified, refused or abandoned: its bytes are no longer held. */
  release(): void;
}

interface Holder {
  bytes: number;
  cut: () => void;
}

export class UnverifiedBudget {
  private readonly holders = new Set<Holder>();
  private used = 0;
  private evictions = 0;

  constructor(
    readonly capacityBytes: number,
    readonly perRequestBytes: number,
  ) {}

  /** Bytes charged to bodies being read (including the per-request charge). */
  get usedBytes(): number {
    return this.used;
  }

  /** Requests being read (not yet verified). */
  get holding(): number {
    return this.holders.size;
  }

  /** Holders cut so far to make room for newer requests. */
  get evicted(): number {
    return this.evictions;
  }

  /** Starts holding a body being read; `cut` is called (once) if it is evicted to make room. */
  hold(cut: () => void): UnverifiedHold {
    const holder: Holder = { bytes: this.perRequestBytes, cut };
    this.used += holder.bytes;
    this.holders.add(holder);
    this.makeRoom(holder);
    return {
      add: (bytes: number) => {
        if (!this.holders.has(holder)) return;
        holder.bytes += bytes;
        this.used += bytes;
        this.makeRoom(holder);
      },
      release: () => this.remove(holder),
    };
  }

  private remove(holder: Holder): boolean {
    if (!this.holders.delete(holder)) return false;
    this.used -= holder.bytes;
    return true;
  }

  /** Cuts the oldest holders other than `keep` (a Set iterates in insertion order) until all fit. */
  private makeRoom(keep: Holder): void {
    if (this.used <= this.capacityBytes) return;
    for (const oldest of this.holders) {
      if (this.used <= this.capacityBytes) return;
      if (oldest === keep) continue;
      this.remove(oldest);
      this.evictions += 1;
      oldest.cut();
    }
  }
}
