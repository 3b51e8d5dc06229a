/**
 * One HTTP exchange with a webhook destination, on node:http (not fetch) so the simulator controls the
 * exact bytes, sees the response's transfer encoding (the challenge forbids chunked, §2.2) and enforces
 * the 10-second answer budget (§2.1) itself.
 */
import http from 'node:http';
import https from 'node:https';

export type ExchangeResult =
  | { kind: 'response'; status: number; headers: http.IncomingHttpHeaders; body: Buffer; durationMs: number }
  | { kind: 'timeout'; durationMs: number; message: string }
  | { kind: 'connection_error'; durationMs: number; message: string };

export interface ExchangeOptions {
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Wall-clock ms the destination has to answer completely. */
  timeoutMs: number;
  /** Keep-alive agents for throughput (one per protocol); defaults to Node's global agents. */
  agents?: { http?: http.Agent; https?: https.Agent };
  /** Largest response body kept, in bytes (the rest is drained). */
  maxResponseBytes?: number;
}

export function exchange(options: ExchangeOptions): Promise<ExchangeResult> {
  const started = performance.now();
  const elapsed = (): number => Math.round((performance.now() - started) * 1000) / 1000;
  const maxBytes = options.maxResponseBytes ?? 64 * 1024;
  return new Promise<ExchangeResult>((resolve) => {
    let settled = false;
    const finish = (r: ExchangeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    let target: URL;
    try {
      target = new URL(options.url);
    } catch (err) {
      finish({ kind: 'connection_error', durationMs: 0, message: `bad URL: ${(err as Error).message}` });
      return;
    }
    const isHttps = target.protocol === 'https:';
    const headers: Record<string, string> = { ...options.headers };
    if (options.body) headers['Content-Length'] = String(options.body.length);
    const req = (isHttps ? https : http).request(target, {
      method: options.method,
      headers,
      agent: isHttps ? options.agents?.https : options.agents?.http,
    });
    const timer = setTimeout(() => {
      // §2.1: an answer slower than the budget is a failure (and is retried, §2.3).
      finish({
        kind: 'timeout',
        durationMs: elapsed(),
        message: `no complete answer within ${options.timeoutMs} ms`,
      });
      req.destroy(new Error('timeout'));
    }, options.timeoutMs);
    req.on('error', (err) =>
      finish({ kind: 'connection_error', durationMs: elapsed(), message: err.message }),
    );
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      res.on('data', (c: Buffer) => {
        if (kept < maxBytes) {
          chunks.push(c);
          kept += c.length;
        }
      });
      res.on('error', (err) =>
        finish({ kind: 'connection_error', durationMs: elapsed(), message: err.message }),
      );
      res.on('end', () =>
        finish({
          kind: 'response',
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).subarray(0, maxBytes),
          durationMs: elapsed(),
        }),
      );
    });
    req.end(options.body);
  });
}
