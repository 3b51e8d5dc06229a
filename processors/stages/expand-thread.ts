/**
 * Runs the Nylas API calls of the expand stage on a worker thread.
 *
 * Why: the processor is bound by its main thread, and a truncated message is the most expensive record
 * it handles. In the processor's CPU profile the SDK, undici and zlib (the request, gunzip of the
 * response, JSON parsing) took a visible share of the main thread's samples, while every other record
 * of the partition waited (docs/decisions/0003-expansion-worker-thread.md; figures in
 * docs/benchmarks.md). On the worker that work runs beside the pipeline; the main thread only receives
 * the parsed message (a structured clone: a copy of its strings).
 *
 * The expansion policy (slots, deadlines, backoff, Retry-After, the grant cool-down) stays in expand.ts
 * on the main thread: this is only its MessageFetcher. A worker that dies fails its calls in flight as
 * connection errors (retried by the policy) and is replaced on the next call.
 *
 * A call the policy aborts (its timeout) is cancelled on the worker, which aborts the SDK's request and
 * answers; the call settles only then, so the policy's slot stays taken while the request is open. A
 * worker that does not answer a cancel within CANCEL_GRACE_MS is terminated: its calls end with it.
 *
 * This module is also the worker's entry: started with WORKER_ROLE in its workerData, it serves the SDK
 * fetcher (bottom of the file). One file, so every build that compiles the processor compiles the worker.
 */
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { withTimeout } from '../../lib/timeout';
import { ApiCallError, type MessageFetcher, sdkMessageFetcher } from './expand';

export interface ThreadOptions {
  apiKey: string;
  apiUri: string;
  requestTimeoutMs: number;
}

interface FetchRequest {
  id: number;
  grantId: string;
  messageId: string;
  timeoutMs: number;
}

/** Ends the call `cancel` (its request aborted); the worker then answers it as failed. */
interface CancelRequest {
  cancel: number;
}

/** How long an aborted call may take to end on the worker before the worker itself is ended. */
const CANCEL_GRACE_MS = 2000;

type FetchReply =
  | { ready: true }
  | { id: number; ok: true; object: Record<string, unknown> }
  | { id: number; ok: false; message: string; status: number | undefined; retryAfterMs: number | undefined };

/** Marks this module's own worker (other code may run workers too, jest among them). */
const WORKER_ROLE = 'nylas-stream-expand-thread';

/** From TypeScript sources (jest, run-ts.js) the worker compiles this file with the test helpers' hook. */
function workerExecArgv(): string[] {
  return __filename.endsWith('.ts')
    ? ['--require', join(__dirname, '..', '..', 'test', 'helpers', 'ts-require.js')]
    : [];
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
  let worker: { thread: Worker; started: Promise<void> } | undefined;
  let nextId = 1;
  let closed = false;

  const failAll = (why: string) => {
    for (const p of pending.values()) p.reject(new ApiCallError(why, undefined, undefined));
    pending.clear();
  };

  const start = (): { thread: Worker; started: Promise<void> } => {
    const thread = new Worker(__filename, {
      workerData: { role: WORKER_ROLE, options },
      execArgv: workerExecArgv(),
    });
    // Kafka's sockets keep the process alive; a worker waiting for work must not.
    thread.unref();
    let loaded: () => void = () => undefined;
    let failed: (err: Error) => void = () => undefined;
    const started = new Promise<void>((resolve, reject) => {
      loaded = resolve;
      failed = reject;
    });
    started.catch(() => undefined); // a failed start is reported by ready() or the calls in flight
    const gone = (why: string) => {
      if (worker?.thread === thread) worker = undefined;
      failed(new Error(why)); // no effect once started
      failAll(why);
    };
    thread.on('message', (reply: FetchReply) => {
      if ('ready' in reply) {
        loaded();
        return;
      }
      const p = pending.get(reply.id);
      if (!p) return; // the caller's own timer gave up on it already
      pending.delete(reply.id);
      if (reply.ok) p.resolve(reply.object);
      else p.reject(new ApiCallError(reply.message, reply.status, reply.retryAfterMs));
    });
    thread.on('error', (err) => gone(`expansion worker failed: ${err.message}`));
    thread.on('exit', (code) => gone(`expansion worker exited (${code})`));
    return { thread, started };
  };

  const fetchMessage = (grantId: string, messageId: string, timeoutMs: number, signal?: AbortSignal) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      if (closed) {
        reject(new ApiCallError('expansion worker closed', undefined, undefined));
        return;
      }
      worker ??= start();
      const w = worker;
      const id = nextId++;
      let grace: NodeJS.Timeout | undefined;
      const onAbort = () => {
        w.thread.postMessage({ cancel: id } satisfies CancelRequest);
        grace = setTimeout(() => {
          if (pending.has(id)) void w.thread.terminate();
        }, CANCEL_GRACE_MS);
        grace.unref();
      };
      const settle = () => {
        signal?.removeEventListener('abort', onAbort);
        if (grace) clearTimeout(grace);
      };
      pending.set(id, {
        resolve: (o) => {
          settle();
          resolve(o);
        },
        reject: (e) => {
          settle();
          reject(e);
        },
      });
      w.thread.postMessage({ id, grantId, messageId, timeoutMs } satisfies FetchRequest);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });

  return Object.assign(fetchMessage, {
    async ready(timeoutMs = 30_000): Promise<void> {
      worker ??= start();
      if ((await withTimeout(worker.started, timeoutMs)) === 'timeout') {
        throw new Error(`expansion worker not ready within ${timeoutMs} ms`);
      }
    },
    async close(): Promise<void> {
      closed = true;
      const w = worker;
      worker = undefined;
      failAll('expansion worker closed');
      if (w) await w.thread.terminate();
    },
  });
}

/** The worker's side: the SDK fetcher, each answer or error reduced to what the expansion policy needs. */
function serveWorker(port: NonNullable<typeof parentPort>, options: ThreadOptions): void {
  const fetchMessage = sdkMessageFetcher(options);
  const calls = new Map<number, AbortController>();
  port.on('message', (req: FetchRequest | CancelRequest) => {
    if ('cancel' in req) {
      calls.get(req.cancel)?.abort();
      return;
    }
    const controller = new AbortController();
    calls.set(req.id, controller);
    // Also ends the call on its own should the cancel never come (the caller's timer is the same).
    const timer = setTimeout(() => controller.abort(), req.timeoutMs);
    const done = () => {
      clearTimeout(timer);
      calls.delete(req.id);
    };
    fetchMessage(req.grantId, req.messageId, req.timeoutMs, controller.signal)
      .finally(done)
      .then(
        (object) => port.postMessage({ id: req.id, ok: true, object } satisfies FetchReply),
        (err: unknown) => {
          const e = err instanceof ApiCallError ? err : undefined;
          port.postMessage({
            id: req.id,
            ok: false,
            message: e?.message ?? String((err as Error)?.message ?? err),
            status: e?.status,
            retryAfterMs: e?.retryAfterMs,
          } satisfies FetchReply);
        },
      );
  });
  port.postMessage({ ready: true } satisfies FetchReply);
}

const role = (workerData as { role?: unknown } | null)?.role;
if (!isMainThread && parentPort && role === WORKER_ROLE) {
  serveWorker(parentPort, (workerData as { options: ThreadOptions }).options);
}
