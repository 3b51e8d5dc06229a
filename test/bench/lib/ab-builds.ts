/**
 * Processor builds against each other, alternated in one session: `npm run bench:ab`. One topic is
 * preloaded once (the processor scenario's traffic: 12 partitions, 5 % duplicates, 2 % reordered), then
 * each build's processor and the tuned passthrough drain it in turn, rep after rep, each from its own
 * consumer group with an empty state, and the medians are compared. On this 2-core machine single drains
 * move by ±20 %, so only builds measured in the same session, alternated, can be compared (issue 15's
 * throughput question was answered this way: docs/benchmarks.md, "Processor throughput with the disk
 * store").
 *
 *   AB_VARIANTS  name=path,… (required)  a build's CLI, e.g. base=/tmp/base/dist/bench/cli/index.js (each
 *                                        worktree built with `npx tsc -p test/bench/tsconfig.json`); the
 *                                        same path twice with different AB_ENV_* compares settings
 *   AB_REPS      3                       counted drains per variant
 *   AB_RECORDS   100000                  records preloaded
 *   AB_WARMUP    1 = one uncounted drain of the first variant first (a session's first drain runs slow)
 *   AB_LARGE     0 = without the simulator's > 1 MB messages
 *   AB_ENV_<name>      "K=V;K2=V2"       extra environment of one variant's processor
 *   AB_EXECARGV_<name> "--flag …"        node flags of one variant's processor
 *   AB_PROFILE   name,…                  CPU-profile these variants (lib/cpu-profile.ts)
 *   AB_KEEP_INFRA 1 = leave the bench's Kafka and registry running
 *
 * Each drain also logs where the processor's CPU went, per thread (its JavaScript, V8's helpers, the
 * thread pool, RocksDB's threads: lib/proc.ts, threadCpuSeconds), and the summary gives their medians.
 *
 * The topics are created from this checkout's topic plan, so a variant from an older commit must accept
 * them (older builds warn about the variables they do not know). Logs: $TMPDIR/nylas-ab/<time>/.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runningPid } from '../../../deploy/local/process';
import { SERVICE_ENV_DEFAULTS, serviceNodeFlags } from '../../../lib/service-runtime';
import { createWorld, startNylasApi } from '../../../simulator';
import { preloadRaw } from '../load/preload';
import { outcomesFrom } from '../scenarios/processor';
import { BenchChild } from './child';
import { freePort } from './context';
import { createTopic, groupLag, scenarioTopics, startInfra, uniqueName } from './infra';
import { threadCpuSeconds, threadCpuSince, UsageSampler } from './proc';
import { scrape } from './prom';
import { median, round } from './stats';

const log = (line: string) => console.error(`[ab ${new Date().toISOString().slice(11, 19)}] ${line}`);

async function drain(admin: import('kafkajs').Admin, groupId: string, topic: string, total: number) {
  let first: { at: number; lag: number } | undefined;
  const deadline = Date.now() + 300_000;
  for (;;) {
    const lag = await groupLag(admin, groupId, topic).catch(() => total);
    const now = performance.now();
    if (first === undefined && lag < total) first = { at: now, lag };
    if (lag === 0 && first) {
      const s = (now - first.at) / 1000;
      return { eps: first.lag / s, seconds: s };
    }
    if (Date.now() > deadline) throw new Error(`${groupId}: lag ${lag}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** "K=V" split at its first '=' only: a value may hold more (NODE_OPTIONS=--require=…). */
function atFirstEquals(kv: string, variable: string): [string, string] {
  const eq = kv.indexOf('=');
  if (eq <= 0) throw new Error(`${variable}: "${kv}" is not name=value`);
  return [kv.slice(0, eq), kv.slice(eq + 1)];
}

async function metricLines(url: string): Promise<string[]> {
  const text = await scrape(url);
  return text
    .split('\n')
    .filter((l) =>
      /^nylas_stream_processor_(round_phase_seconds_(sum|count)|transactions_total|fetch_pauses_total)/.test(
        l,
      ),
    );
}

async function main() {
  if (!process.env.AB_VARIANTS)
    throw new Error('AB_VARIANTS is required: name=path/to/dist/bench/cli/index.js,…');
  const variants = String(process.env.AB_VARIANTS)
    .split(',')
    .map((v) => atFirstEquals(v, 'AB_VARIANTS'))
    .map(([name, cli]) => ({ name, cli }));
  const reps = Number(process.env.AB_REPS ?? 3);
  const count = Number(process.env.AB_RECORDS ?? 100000);
  const profile = new Set((process.env.AB_PROFILE ?? '').split(',').filter(Boolean));
  const work = join(tmpdir(), 'nylas-ab', new Date().toISOString().slice(0, 19).replaceAll(':', '-'));
  const logDir = join(work, 'logs');
  mkdirSync(logDir, { recursive: true });
  log(`work dir ${work}`);
  const infra = await startInfra(log);
  try {
    const topicEnv = await scenarioTopics(infra, 'ab-proc', 12);
    const raw = String(topicEnv.TOPIC_RAW);
    const meanGapSeconds = Math.min(1, (36 * 3600) / count);
    const startTime = Math.floor(Date.now() / 1000) - Math.ceil(count * meanGapSeconds);
    const world = createWorld({ seed: 20_251_122, grants: 200, startTime });
    const preload = await preloadRaw(infra.kafka, world, {
      topic: raw,
      count,
      duplicateRate: 0.05,
      reorderRate: 0.02,
      reorderWindow: 8,
      seed: 7,
      secret: 'bench-webhook-secret',
      // AB_LARGE=0: without the simulator's >1 MB messages (as the processor scenario's --no-large-messages).
      generator:
        process.env.AB_LARGE === '0' ? { meanGapSeconds, bodySizes: { largeRate: 0 } } : { meanGapSeconds },
    });
    log(
      `preloaded ${preload.records} (${preload.duplicates} duplicates, ${preload.reordered} reordered, ${preload.truncated} truncated, ${round(preload.bytes / 1048576)} MB)`,
    );
    const api = await startNylasApi({ world, apiKey: 'bench-api-key', port: 0 });
    const passOut = uniqueName('ab-pass-out');
    await createTopic(infra, passOut, 12);
    const kinds = [...variants.map((v) => v.name), 'tuned'];
    const results = new Map<string, number[]>(kinds.map((k) => [k, []]));
    const cpu = new Map<string, number[]>(kinds.map((k) => [k, []]));
    const rss = new Map<string, number[]>(kinds.map((k) => [k, []]));
    /** Per variant and thread name, CPU µs per record of each counted drain (proc.ts, threadCpuSeconds). */
    const threads = new Map<string, Map<string, number[]>>(kinds.map((k) => [k, new Map()]));
    const perRecordUs = (s: number) => (s / count) * 1e6;
    const warmup = process.env.AB_WARMUP === '1';
    for (let rep = warmup ? -1 : 0; rep < reps; rep++) {
      // rep -1: one drain of the first variant, not counted (the first drain of a session runs slow).
      const order =
        rep < 0 ? [kinds[0] as string] : kinds.map((_, i) => kinds[(i + rep) % kinds.length] as string);
      for (const which of order) {
        const groupId = uniqueName(`ab-${which}`);
        const variant = variants.find((v) => v.name === which);
        if (variant) {
          const state = uniqueName('ab-state');
          await createTopic(infra, state, 12, { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '0' });
          const port = await freePort();
          const stateDir = join(work, 'state', groupId);
          const extra: Record<string, string> = {};
          for (const kv of (process.env[`AB_ENV_${which}`] ?? '').split(';').filter(Boolean)) {
            const [k, v] = atFirstEquals(kv, `AB_ENV_${which}`);
            extra[k] = v;
          }
          const env: Record<string, string | undefined> = {
            ...SERVICE_ENV_DEFAULTS,
            ...process.env,
            ...infra.env,
            ...topicEnv,
            TOPIC_STATE: state,
            PROCESSOR_GROUP_ID: groupId,
            PROCESSOR_METRICS_PORT: String(port),
            PROCESSOR_STATE_DIR: stateDir,
            NYLAS_API_KEY: 'bench-api-key',
            NYLAS_API_URI: api.url,
            LOG_LEVEL: 'warn',
            ...extra,
          };
          if (profile.has(which)) {
            // Added to the variant's own NODE_OPTIONS (AB_ENV_<variant>), which it used to replace.
            env.NODE_OPTIONS = [env.NODE_OPTIONS, `--require ${join(__dirname, 'cpu-profile.js')}`]
              .filter(Boolean)
              .join(' ');
            env.BENCH_CPU_PROF_DIR = join(work, 'profiles', `${which}-${rep}`);
          }
          const out = createWriteStream(join(logDir, `${which}-${rep}.log`));
          // The processor's own flags first: a variant's come after them and win (node takes the last).
          const execArgv = [
            ...serviceNodeFlags('processor'),
            ...(process.env[`AB_EXECARGV_${which}`] ?? '').split(' ').filter(Boolean),
          ];
          const child = spawn(process.execPath, [...execArgv, variant.cli, 'processor'], {
            env,
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          child.stdout.pipe(out);
          child.stderr.pipe(out);
          const exited = new Promise<void>((r) => child.once('exit', () => r()));
          for (;;) {
            const ok = await fetch(`http://127.0.0.1:${port}/readyz`)
              .then((r) => r.ok)
              .catch(() => false);
            if (ok) break;
            if (child.exitCode !== null) throw new Error(`${which} exited`);
            await new Promise((r) => setTimeout(r, 200));
          }
          const threadsBefore = threadCpuSeconds(child.pid ?? -1);
          const usage = new UsageSampler(child.pid ?? -1, 250).start();
          const broker = new UsageSampler(runningPid(infra.runtime.kafkaProc) ?? -1, 500).start();
          const d = await drain(infra.admin, groupId, raw, count);
          const u = usage.stop();
          // Where the processor's CPU went: its JavaScript, V8's helpers (mostly the collector), the
          // thread pool (rocksdb-native's reads and writes), RocksDB's own background threads.
          const split = [...threadCpuSince(threadsBefore, threadCpuSeconds(child.pid ?? -1))]
            .filter(([, s]) => s > 0)
            .sort((x, y) => y[1] - x[1]);
          const byName = threads.get(which) as Map<string, number[]>;
          if (rep >= 0) {
            for (const [name, s] of split) byName.set(name, [...(byName.get(name) ?? []), perRecordUs(s)]);
          }
          const b = broker.stop();
          await new Promise((r) => setTimeout(r, 1000));
          const outcomes = await outcomesFrom(`http://127.0.0.1:${port}/metrics`).catch(() => ({}));
          const metrics = await metricLines(`http://127.0.0.1:${port}/metrics`).catch(() => []);
          child.kill('SIGTERM');
          await exited;
          rmSync(stateDir, { recursive: true, force: true });
          if (rep >= 0) results.get(which)?.push(d.eps);
          if (rep >= 0) cpu.get(which)?.push(u.cpuCores * d.seconds);
          if (rep >= 0) rss.get(which)?.push(u.rssPeakMb);
          log(
            `${which} rep ${rep}: ${round(d.eps)} events/s (drain ${round(d.seconds)} s, cpu ${round(u.cpuCores, 2)}, broker cpu ${round(b.cpuCores, 2)}, rss ${round(u.rssPeakMb)} MB) ${JSON.stringify(outcomes)}`,
          );
          log(
            `  ${which} threads, CPU µs/record: ${split.map(([name, s]) => `${name} ${round(perRecordUs(s), 1)}`).join(', ')}`,
          );
          for (const l of metrics) log(`  ${which} ${l}`);
        } else {
          const child = new BenchChild({
            name: 'passthrough-tuned',
            script: join(__dirname, '..', 'baselines', 'passthrough.js'),
            env: {
              ...infra.env,
              TOPIC_RAW: raw,
              BENCH_OUTPUT_TOPIC: passOut,
              BENCH_GROUP_ID: groupId,
              BENCH_PASSTHROUGH_CLIENT: 'tuned',
              LOG_LEVEL: 'warn',
            },
            execArgv: [],
            logDir,
          });
          await child.start();
          const usage = new UsageSampler(child.pid, 250).start();
          const d = await drain(infra.admin, groupId, raw, count);
          const u = usage.stop();
          await child.stop();
          results.get(which)?.push(d.eps);
          cpu.get(which)?.push(u.cpuCores * d.seconds);
          rss.get(which)?.push(u.rssPeakMb);
          log(
            `${which} rep ${rep}: ${round(d.eps)} events/s (drain ${round(d.seconds)} s, cpu ${round(u.cpuCores, 2)}, rss ${round(u.rssPeakMb)} MB)`,
          );
        }
      }
    }
    await api.close();
    const tuned = median(results.get('tuned') ?? []);
    for (const k of kinds) {
      const list = results.get(k) ?? [];
      log(
        `SUMMARY ${k}: threads, median CPU µs/record: ${[...(threads.get(k) ?? [])].map(([name, list]) => `${name} ${round(median(list), 1)}`).join(', ') || 'not measured'}`,
      );
      log(
        `SUMMARY ${k}: median ${round(median(list))} events/s [${list.map((v) => round(v)).join(', ')}], cpu-seconds (cores x drain) median ${round(median(cpu.get(k) ?? []), 2)} [${(cpu.get(k) ?? []).map((v) => round(v, 1)).join(', ')}], ratio to tuned ${round(median(list) / tuned, 3)}, cpu µs/record median ${round(perRecordUs(median(cpu.get(k) ?? [])), 1)}, rss peak max ${round(Math.max(...(rss.get(k) ?? [])))} MB`,
      );
    }
  } finally {
    await infra.stop(process.env.AB_KEEP_INFRA !== '1');
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
