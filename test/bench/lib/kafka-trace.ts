/**
 * Diagnostic (`npm run bench -- --trace-kafka processor`): loaded with NODE_OPTIONS=--require into a
 * service, it listens to kafkajs's request instrumentation of every producer and consumer the service
 * creates and, at exit, writes per-API request counts and durations (time on the wire, time queued in
 * kafkajs before sending) to $BENCH_KAFKA_TRACE_FILE. It answers "what is the service waiting for"
 * when its CPU is low and its latency high.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const file = process.env.BENCH_KAFKA_TRACE_FILE;
if (file) {
  const stats = new Map<string, { durations: number[]; pending: number[]; bytes: number }>();
  const record = (kind: string, e: { payload: Record<string, unknown> }) => {
    const key = `${kind} ${String(e.payload.apiName)}`;
    const s = stats.get(key) ?? { durations: [], pending: [], bytes: 0 };
    s.durations.push(Number(e.payload.duration));
    s.pending.push(Number(e.payload.pendingDuration));
    s.bytes += Number(e.payload.size);
    stats.set(key, s);
  };
  // biome-ignore lint/suspicious/noExplicitAny: patching the library's prototype for a diagnostic
  const kafkajs = require('kafkajs') as any;
  for (const kind of ['producer', 'consumer', 'admin'] as const) {
    const original = kafkajs.Kafka.prototype[kind];
    kafkajs.Kafka.prototype[kind] = function (this: unknown, ...args: unknown[]) {
      const client = original.apply(this, args);
      client.on(client.events.REQUEST, (e: { payload: Record<string, unknown> }) => record(kind, e));
      return client;
    };
  }
  const q = (xs: number[], p: number) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN;
  };
  process.once('exit', () => {
    const out: Record<string, unknown> = {};
    for (const [k, s] of [...stats].sort((a, b) => b[1].durations.length - a[1].durations.length)) {
      out[k] = {
        count: s.durations.length,
        durationP50: q(s.durations, 0.5),
        durationP99: q(s.durations, 0.99),
        pendingP50: q(s.pending, 0.5),
        pendingP99: q(s.pending, 0.99),
        mb: Math.round(s.bytes / 1048576),
      };
    }
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  });
}
