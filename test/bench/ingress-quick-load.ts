/**
 * Load generator for the quick ingress measurement, run in its own process so it does not share an
 * event loop with the server it measures. Every notification is built and signed before the clock
 * starts; then `count` POSTs go out over `concurrency` keep-alive connections as fast as answers
 * come back, and each one's latency (send → full answer) is recorded.
 *
 *   node test/helpers/run-ts.js test/bench/ingress-quick-load.ts <url> <count> <concurrency> <bytes> <secret>
 *
 * Prints one JSON line: { count, statuses, durationMs, rps, p50Ms, p90Ms, p99Ms, maxMs }.
 */
import { Agent, request } from 'node:http';
import { delivery, notification } from '../helpers/signed-payload';

export interface LoadSummary {
  count: number;
  concurrency: number;
  bytes: number;
  statuses: Record<string, number>;
  durationMs: number;
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export async function main(argv: string[]): Promise<number> {
  const [url, countArg, concurrencyArg, bytesArg, secret] = argv;
  if (!url || !countArg || !concurrencyArg || !bytesArg || !secret) {
    console.error('usage: ingress-quick-load.ts <url> <count> <concurrency> <bytes> <secret>');
    return 2;
  }
  const count = Number(countArg);
  const concurrency = Number(concurrencyArg);
  const bytes = Number(bytesArg);
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });

  const deliveries = Array.from({ length: count }, (_, i) =>
    delivery(notification({ objectGrantId: `grant-${i % 500}`, minBytes: bytes }), { secret }),
  );
  const latencies = new Float64Array(count);
  const statuses: Record<string, number> = {};
  let next = 0;

  const send = (i: number) =>
    new Promise<void>((resolve) => {
      const d = deliveries[i]!;
      const started = performance.now();
      const req = request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          headers: { ...d.headers, 'content-length': String(d.body.length) },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            latencies[i] = performance.now() - started;
            statuses[String(res.statusCode)] = (statuses[String(res.statusCode)] ?? 0) + 1;
            resolve();
          });
        },
      );
      req.on('error', (err) => {
        latencies[i] = performance.now() - started;
        const key = `error:${(err as NodeJS.ErrnoException).code ?? err.message}`;
        statuses[key] = (statuses[key] ?? 0) + 1;
        resolve();
      });
      req.end(d.body);
    });

  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      await send(i);
    }
  };

  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const durationMs = performance.now() - started;
  agent.destroy();
  const sorted = latencies.slice().sort();
  const summary: LoadSummary = {
    count,
    concurrency,
    bytes: deliveries[0]?.body.length ?? 0,
    statuses,
    durationMs: Math.round(durationMs),
    rps: Math.round((count / durationMs) * 1000),
    p50Ms: round(percentile(sorted, 50)),
    p90Ms: round(percentile(sorted, 90)),
    p99Ms: round(percentile(sorted, 99)),
    maxMs: round(percentile(sorted, 100)),
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return 0;
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}
