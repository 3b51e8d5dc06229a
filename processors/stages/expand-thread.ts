/**
 * Runs the Nylas API calls of the expand stage on a worker thread.
 *
 * Why: the processor is bound by its main thread, and a truncated message is the most expensive record
 * it handles. In the processor's CPU profile (`npm run bench -- --quick --only processor
 * --processor-records 100000 --profile processor`, realistic mix, 87 expansions of 1.05–1.6 MB messages)
 * the SDK call took 1.6–1.9 s of 14.3 s of main-thread time: about 20 ms per message in the SDK, undici,
 * gunzip of the response and JSON parsing, while every other record of the partition waited. On the
 * worker that work runs beside the pipeline; the main thread only receives the parsed message (a
 * structured clone: a copy of its strings).
 *
 * The expansion policy (slots, deadlines, backoff, Retry-After, the grant cool-down) stays in expand.ts
 * on the main thread: this is only its MessageFetcher. A worker that dies fails its calls in flight as
 * connection errors (retried by the policy) and is replaced on the next call.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ApiCallError, type MessageFetcher } from './expand';

export interface ThreadOptions {
  apiKey: string;
  apiUri: string;
  requestTimeoutMs: number;
}

export interface FetchRequest {
  id: number;
  grantId: string;
  messageId: string;
  timeoutMs: number;
}

export type FetchReply =
  | { ready: true }
  | { id: number; ok: true; object: Record<string, unknown> }
  | { id: number; ok: false; message: string; status: number | undefined; retryAfterMs: number | undefined };

/** The compiled worker beside this file; from TypeScript sources (jest, run-ts.js) the .ts one, compiled
 * on load by the same hook the test helpers use. */
function workerEntry(): { file: string; execArgv: string[] } {
  const compiled = join(__dirname, 'expand-thread-worker.js');
  if (existsSync(compiled)) return { file: compiled, execArgv: [] };
  return {
    file: join(__dirname, 'expand-thread-worker.ts'),
    execArgv: ['--require', join(__dirname, '..', '..', 'test', 'helpers', 'ts-require.js')],
  };
}

export type ThreadedMessageFetcher = MessageFetcher & {
  /** Starts the worker and waits until it has loaded the SDK; rejects when it cannot (at start-up, a
   * broken installation must fail loudly rather than dead-letter every truncated message later). */
  ready(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
};

export function threadedMessageFetcher(options: ThreadOptions): ThreadedMessageFetcher {
  const pending = new Map<
    number,
    { resolve: (o: Record<string, unknown>) => void; reject: (e: Error) => void }
  >();
  let worker: Worker | undefined;
  let started: Promise<void> | undefined;
  let nextId = 1;
  let closed = false;

  const failAll = (why: string) => {
    for (const p of pending.values()) p.reject(new ApiCallError(why, undefined, undefined));
    pending.clear();
  };

  const start = (): Worker => {
    const { file, execArgv } = workerEntry();
    const w = new Worker(file, { workerData: options, execArgv });
    // Kafka's sockets keep the process alive; a worker waiting for work must not.
    w.unref();
    started = new Promise<void>((resolve, reject) => {
      w.once('message', () => resolve()); // its first message says it loaded
      w.once('error', reject);
      w.once('exit', (code) => reject(new Error(`expansion worker exited (${code}) while starting`)));
    });
    started.catch(() => undefined);
    w.on('message', (reply: FetchReply) => {
      if ('ready' in reply) return;
      const p = pending.get(reply.id);
      if (!p) return; // the caller's own timer gave up on it already
      pending.delete(reply.id);
      if (reply.ok) p.resolve(reply.object);
      else p.reject(new ApiCallError(reply.message, reply.status, reply.retryAfterMs));
    });
    w.on('error', (err) => {
      if (worker === w) worker = undefined;
      failAll(`expansion worker failed: ${err.message}`);
    });
    w.on('exit', (code) => {
      if (worker === w) worker = undefined;
      failAll(`expansion worker exited (${code})`);
    });
    return w;
  };

  const fetchMessage = (grantId: string, messageId: string, timeoutMs: number) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      if (closed) {
        reject(new ApiCallError('expansion worker closed', undefined, undefined));
        return;
      }
      worker ??= start();
      const id = nextId++;
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, grantId, messageId, timeoutMs } satisfies FetchRequest);
    });

  return Object.assign(fetchMessage, {
    async ready(timeoutMs = 30_000): Promise<void> {
      worker ??= start();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          started,
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`expansion worker not ready within ${timeoutMs} ms`)),
              timeoutMs,
            );
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    },
    async close(): Promise<void> {
      closed = true;
      const w = worker;
      worker = undefined;
      failAll('expansion worker closed');
      if (w) await w.terminate();
    },
  });
}
