/**
 * Steady load for fault tests: `concurrency` workers POST freshly signed notifications until stopped,
 * and every answer (or connection error) is kept with its notification id and timing, so a test can
 * check "every 200 is in the topic" and "every failure was a 503 within the ack budget".
 */
import { delivery, notification } from './signed-payload';

export interface LoadResult {
  id: string;
  /** HTTP status, or 0 when the request failed without an answer (connection refused or reset). */
  status: number;
  retryAfter: string | null;
  startedAt: number;
  endedAt: number;
  error?: string;
}

export interface LoadOptions {
  url: string;
  concurrency: number;
  secret?: string;
  /** Body size of each notification. */
  minBytes?: number;
  /** Stop a worker at its first connection error (the server is gone). */
  stopOnConnectionError?: boolean;
  /** Pacing, not synchronization: each worker starts a request at most this often (a server that
   * answers 503 at once would otherwise be hammered in a tight loop on a shared machine). */
  minIntervalMs?: number;
}

export class LoadRun {
  readonly results: LoadResult[] = [];
  private stopped = false;
  readonly done: Promise<void>;

  constructor(private readonly options: LoadOptions) {
    this.done = Promise.all(Array.from({ length: options.concurrency }, () => this.worker())).then(
      () => undefined,
    );
  }

  stop(): Promise<void> {
    this.stopped = true;
    return this.done;
  }

  count(status: number): number {
    return this.results.filter((r) => r.status === status).length;
  }

  private async worker(): Promise<void> {
    while (!this.stopped) {
      const pace = new Promise((resolve) => setTimeout(resolve, this.options.minIntervalMs ?? 0));
      const n = notification({
        objectGrantId: `grant-${Math.floor(Math.random() * 50)}`,
        minBytes: this.options.minBytes,
      });
      const d = delivery(n, { secret: this.options.secret ?? 'test-secret' });
      const startedAt = Date.now();
      try {
        const res = await fetch(this.options.url, { method: 'POST', headers: d.headers, body: d.body });
        await res.arrayBuffer();
        this.results.push({
          id: n.id as string,
          status: res.status,
          retryAfter: res.headers.get('retry-after'),
          startedAt,
          endedAt: Date.now(),
        });
      } catch (err) {
        this.results.push({
          id: n.id as string,
          status: 0,
          retryAfter: null,
          startedAt,
          endedAt: Date.now(),
          error: String((err as Error).cause ?? err),
        });
        if (this.options.stopOnConnectionError) return;
      }
      await pace;
    }
  }
}
