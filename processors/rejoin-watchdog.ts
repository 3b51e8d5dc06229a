/**
 * Catches a kafkajs consumer that does not come back after a crash.
 *
 * kafkajs restarts a consumer after a retriable crash by itself ("Restarting the consumer in 100ms"), and
 * a restart that fails again crashes again, so a living restart loop shows up as CRASH events. Seen in
 * test/e2e/processor-broker-outage.test.ts (3 of ~12 runs): after a broker restart the JoinGroup answered
 * COORDINATOR_LOAD_IN_PROGRESS, kafkajs announced the restart, and then nothing happened for minutes: no
 * crash, no join, no fetch. The process was up and consumed nothing.
 *
 * So: every restartable crash (re)arms a timer, every GROUP_JOIN disarms it, and when the timer runs out
 * the consumer has been silent for the whole bound and `onStuck` replaces it. The bound must exceed a
 * legitimate join, which can wait for the rebalance timeout (kafkajs default 60 s) of the other members.
 */
export class RejoinWatchdog {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly timeoutMs: number,
    private readonly onStuck: () => void,
  ) {}

  /** A restartable crash: the consumer must join again within the bound. */
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
