/**
 * The quick ingress measurement of issue 4: a burst of signed 2 KB notifications against the ingress
 * (`nylas-stream ingress`, micro-batched) and, in the same run, against a naive express handler that
 * awaits one `producer.send` per request (test/bench/ingress-quick-naive.ts) — both with an idempotent
 * producer and acks=all, both answering 200 only after the acknowledgement, each against a fresh
 * 12-partition topic on a local broker. The load generator is its own process. Runs alternate the
 * order of the two servers; the summary reports medians over the runs. After each burst the topic's
 * end offsets are summed to check that every 200 is in Kafka.
 *
 *   node test/helpers/run-ts.js test/bench/ingress-quick.ts [--runs 3] [--count 20000]
 *        [--concurrency 200] [--bytes 2048] [--brokers 127.0.0.1:9092] [--out file.json]
 *
 * Without --brokers it starts a private broker (local runtime instance "ingress-quick") and removes it
 * afterwards. Results: test/bench/results/ingress-quick-<timestamp>.json (and a table on stdout).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalRuntime, runtimeOptionsFromEnv } from '../../deploy/local/runtime';
import { loadCommonConfig } from '../../lib/config';
import { createKafka } from '../../lib/kafka';
import { silentLogger } from '../../lib/logger';
import type { LoadSummary } from './ingress-quick-load';

const ROOT = join(__dirname, '..', '..');
const RUN_TS = join(ROOT, 'test', 'helpers', 'run-ts.js');
const RUN_CLI = join(ROOT, 'test', 'helpers', 'run-cli.js');
const SECRET = 'bench-secret';
const PORTS = { ingress: 39301, naive: 39302 } as const;
type Target = keyof typeof PORTS;

interface Flags {
  runs: number;
  count: number;
  concurrency: number;
  bytes: number;
  brokers: string | undefined;
  out: string | undefined;
}

function parseFlags(argv: string[]): Flags {
  const flags: Flags = {
    runs: 3,
    count: 20_000,
    concurrency: 200,
    bytes: 2048,
    brokers: undefined,
    out: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    switch (argv[i]) {
      case '--runs':
        flags.runs = Number(v);
        i++;
        break;
      case '--count':
        flags.count = Number(v);
        i++;
        break;
      case '--concurrency':
        flags.concurrency = Number(v);
        i++;
        break;
      case '--bytes':
        flags.bytes = Number(v);
        i++;
        break;
      case '--brokers':
        flags.brokers = v;
        i++;
        break;
      case '--out':
        flags.out = v;
        i++;
        break;
      default:
        throw new Error(`unknown flag ${argv[i]}`);
    }
  }
  return flags;
}

async function waitFor(what: string, fn: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function startServer(target: Target, brokers: string, topic: string, logFile: string): ChildProcess {
  const out = openSync(logFile, 'a');
  const env = {
    ...process.env,
    KAFKA_BROKERS: brokers,
    TOPIC_RAW: topic,
    NYLAS_WEBHOOK_SECRETS: SECRET,
    LOG_LEVEL: 'warn',
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
  };
  return target === 'ingress'
    ? spawn(process.execPath, [RUN_CLI, 'ingress'], {
        env: { ...env, INGRESS_HOST: '127.0.0.1', INGRESS_PORT: String(PORTS.ingress) },
        stdio: ['ignore', out, out],
      })
    : spawn(process.execPath, [RUN_TS, join(ROOT, 'test', 'bench', 'ingress-quick-naive.ts')], {
        env: { ...env, PORT: String(PORTS.naive) },
        stdio: ['ignore', out, out],
      });
}

function runLoad(url: string, flags: Flags): Promise<LoadSummary> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        RUN_TS,
        join(ROOT, 'test', 'bench', 'ingress-quick-load.ts'),
        url,
        String(flags.count),
        String(flags.concurrency),
        String(flags.bytes),
        SECRET,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let stdout = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`load generator exited with ${code}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as LoadSummary);
    });
  });
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

interface RunResult extends LoadSummary {
  run: number;
  target: Target;
  topic: string;
  recordsInTopic: number;
  loadAverageBefore: number[];
}

export async function main(argv: string[]): Promise<number> {
  const flags = parseFlags(argv);
  const logDir = join(tmpdir(), `ingress-quick-${Date.now()}`);
  mkdirSync(logDir, { recursive: true });
  let runtime: LocalRuntime | undefined;
  let brokers = flags.brokers;
  if (brokers === undefined) {
    runtime = new LocalRuntime(
      runtimeOptionsFromEnv(process.env, {
        instance: 'ingress-quick',
        kafkaPort: 39192,
        controllerPort: 39193,
        registryPort: 38181,
        registryManagementPort: 39100,
        log: (line) => console.error(`[runtime] ${line}`),
      }),
    );
    await runtime.startKafka();
    brokers = runtime.brokers;
  }
  const kafka = createKafka(
    loadCommonConfig({ KAFKA_BROKERS: brokers }).kafka,
    silentLogger(),
    'quick-bench',
  );
  const admin = kafka.admin();
  await admin.connect();
  const results: RunResult[] = [];
  const topics: string[] = [];
  try {
    for (let run = 1; run <= flags.runs; run++) {
      const order: Target[] = run % 2 === 1 ? ['ingress', 'naive'] : ['naive', 'ingress'];
      for (const target of order) {
        const topic = `quick-${target}-${Date.now().toString(36)}`;
        topics.push(topic);
        await admin.createTopics({
          waitForLeaders: true,
          topics: [{ topic, numPartitions: 12, replicationFactor: 1 }],
        });
        const server = startServer(target, brokers, topic, join(logDir, `${target}-${run}.log`));
        const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
        const base = `http://127.0.0.1:${PORTS[target]}`;
        await waitFor(`${target} ready`, async () => (await fetch(`${base}/readyz`)).status === 200);
        const loadAverageBefore = loadavg();
        const summary = await runLoad(`${base}/webhooks/nylas`, flags);
        const offsets = await admin.fetchTopicOffsets(topic);
        const recordsInTopic = offsets.reduce((n, p) => n + Number(p.high), 0);
        server.kill('SIGTERM');
        await exited;
        const result: RunResult = { run, target, topic, recordsInTopic, loadAverageBefore, ...summary };
        results.push(result);
        console.error(
          `run ${run} ${target.padEnd(7)} ${summary.rps} req/s  p50 ${summary.p50Ms} ms  p99 ${summary.p99Ms} ms  ` +
            `statuses ${JSON.stringify(summary.statuses)}  in topic ${recordsInTopic}`,
        );
        if (recordsInTopic < (summary.statuses['200'] ?? 0)) {
          throw new Error(
            `${target}: ${summary.statuses['200']} × 200 but only ${recordsInTopic} records in Kafka`,
          );
        }
      }
    }
  } finally {
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
    if (runtime !== undefined) await runtime.destroy();
  }

  const med = (target: Target, key: 'rps' | 'p50Ms' | 'p99Ms') =>
    median(results.filter((r) => r.target === target).map((r) => r[key]));
  const summary = {
    ingress: { rps: med('ingress', 'rps'), p50Ms: med('ingress', 'p50Ms'), p99Ms: med('ingress', 'p99Ms') },
    naive: { rps: med('naive', 'rps'), p50Ms: med('naive', 'p50Ms'), p99Ms: med('naive', 'p99Ms') },
  };
  const ratios = {
    throughput: Math.round((summary.ingress.rps / summary.naive.rps) * 10) / 10,
    p99: Math.round((summary.naive.p99Ms / summary.ingress.p99Ms) * 10) / 10,
  };
  const report = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
    broker: runtime ? `local runtime (Apache Kafka ${runtime.options.kafkaVersion}), 1 broker` : brokers,
    flags,
    summary,
    ratios,
    runs: results,
  };
  const out =
    flags.out ??
    join(ROOT, 'test', 'bench', 'results', `ingress-quick-${report.date.replace(/[:.]/g, '-')}.json`);
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(
    `\n${flags.count} signed ${flags.bytes}-byte notifications, ${flags.concurrency} connections, medians of ${flags.runs} runs`,
  );
  console.log('| server | requests/s | p50 ms | p99 ms |');
  console.log('|---|---|---|---|');
  console.log(
    `| ingress (micro-batched) | ${summary.ingress.rps} | ${summary.ingress.p50Ms} | ${summary.ingress.p99Ms} |`,
  );
  console.log(
    `| naive (send per request) | ${summary.naive.rps} | ${summary.naive.p50Ms} | ${summary.naive.p99Ms} |`,
  );
  console.log(`throughput ×${ratios.throughput}, p99 ×${ratios.p99} lower; results: ${out}; logs: ${logDir}`);
  return 0;
}
