/**
 * The worker thread of expand-thread.ts: runs the SDK fetcher (expand.ts) and answers each request with
 * the fetched message or the call's error, reduced to what the expansion policy needs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ApiCallError, sdkMessageFetcher } from './expand';
import type { FetchReply, FetchRequest, ThreadOptions } from './expand-thread';

const port = parentPort;
if (!port) throw new Error('expand-thread-worker.ts runs as a worker thread (see expand-thread.ts)');
const fetchMessage = sdkMessageFetcher(workerData as ThreadOptions);

port.postMessage({ ready: true } satisfies FetchReply);
port.on('message', (req: FetchRequest) => {
  fetchMessage(req.grantId, req.messageId, req.timeoutMs).then(
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
