/**
 * Catches a consumer that does not join its group.
 *
 * The processor replaces a crashed consumer itself (processor.ts: kafkajs's own restart could start two
 * runners of one consumer). A replacement that starts but never joins would leave the process up and
 * consuming nothing: seen with kafkajs's restart in test/e2e/processor-broker-outage.test.ts (3 of ~12
 * runs), a JoinGroup answered COORDINATOR_LOAD_IN_PROGRESS and then no crash, no join, no fetch.
 *
 * So: every replacement started (re)arms a timer, every GROUP_JOIN disarms it, and when the timer runs
 * out the consumer has been silent for the whole bound and `onStuck` replaces it. The bound must exceed a
 * legitimate join, which can wait for the rebalance timeout (kafkajs default 60 s) of the other members.
 */
export class RejoinWatchdog {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly timeoutMs: number,
    private readonly onStuck: () => void,
  ) {}

  /** A consumer was (re)started: it must join within the bound. */
  crashed(): void {
    if (this.closed) return;
    this.disarm();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.closed) this.onStuck();
    }, this.timeoutMs);
    this.timer.unref();
  }

  /** The consumer joined (or is being replaced): nothing to watch. */
  joined(): void {
    this.disarm();
  }

  get armed(): boolean {
    return this.timer !== undefined;
  }

  close(): void {
    this.closed = true;
    this.disarm();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
