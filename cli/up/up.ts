/**
 * `nylas-stream up`: the local all-in-one. Infrastructure (the no-Docker runtime), topics, schemas,
 * then the ingress and the processor as supervised child processes, with a live status line; Ctrl-C
 * stops the services and the infrastructure this command started. `--demo` adds the simulator: a local
 * Nylas API for expansion, and a realistic burst sent through the ingress with Nylas's delivery rules.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalRuntime, type LocalRuntimeOptions, runtimeEnv } from '../../deploy/local/runtime';
import { DEFAULT_DESTINATION, parseSecretsText } from '../../ingress/secrets';
import { retryStartupStep } from '../../lib/backoff';
import { loadCommonConfig } from '../../lib/config';
import { errorMessage } from '../../lib/errors';
import { createKafka } from '../../lib/kafka';
import { applyKafkajsAdaptations } from '../../lib/kafkajs';
import { createLogger, silentLogger } from '../../lib/logger';
import { readToEnd } from '../../lib/read-to-end';
import { createSchemaRegistry } from '../../lib/schema-registry';
import { domainTopicNames, ensureTopics, topicPlan } from '../../lib/topics';
import { PROCESSOR_GROUP_ID } from '../../processors/config';
import { registerDomainSchemas } from '../../schemas';
import { createWorld, type NylasApiServer, runScenario, startNylasApi } from '../../simulator';
import { writeSecretsFile } from '../ops/secrets-file';
import { runShutdown, stopRequest } from './shutdown';
import { formatStatus, RecordCounter, readStatus } from './status';
import { ServiceProcess } from './supervisor';

export interface UpOptions {
  runtime: LocalRuntimeOptions;
  demo: boolean;
  demoCount: number;
  ingressPort: number;
  processorMetricsPort: number;
  /** Exit after the demo (or once everything is up) instead of waiting for Ctrl-C. */
  once: boolean;
  print: (line: string) => void;
}

/** The local deployment's webhook secret: kept in the instance folder so it survives restarts. Written
 * like every secrets file (0600, exclusive temp file, fsynced); read with the ingress's parser, whose
 * errors never quote the file. */
async function localSecret(runtime: LocalRuntime): Promise<{ file: string; secret: string }> {
  const file = join(runtime.dir, 'webhook-secrets.json');
  if (!existsSync(file)) {
    mkdirSync(runtime.dir, { recursive: true });
    const fresh = JSON.stringify({ default: [randomBytes(24).toString('base64url')] }, null, 2);
    await writeSecretsFile(file, `${fresh}\n`);
  }
  let secret: string | undefined;
  try {
    secret = parseSecretsText(readFileSync(file, 'utf8'))[DEFAULT_DESTINATION]?.[0];
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
  if (!secret) throw new Error(`${file} has no secret for destination "default"`);
  return { file, secret };
}

export async function up(options: UpOptions): Promise<void> {
  const print = options.print;
  const started = Date.now();
  // From here on a Ctrl-C (or a closed stdout) asks for the shutdown below instead of killing `up`.
  const stop = stopRequest();
  const runtime = new LocalRuntime(options.runtime);
  const before = await runtime.status();
  const infraWasRunning = before.kafka.running && before.registry.running;
  try {
    await runtime.start();
  } catch (err) {
    stop.dispose();
    throw err;
  }

  const env = { ...process.env, ...runtimeEnv(runtime) };
  const config = loadCommonConfig(env);
  const upLogger = createLogger({ name: 'up', level: 'warn' });
  // Its own clients too (topics, the record counter), not only the services it starts: an inactive
  // adaptation is a warning here.
  applyKafkajsAdaptations(upLogger);
  const kafkaClient = createKafka(config.kafka, upLogger, 'up');
  const admin = kafkaClient.admin();
  let counter: RecordCounter | undefined;
  const services: ServiceProcess[] = [];
  let api: NylasApiServer | undefined;
  const shutdown = () =>
    runShutdown(
      [
        ...[...services].reverse().map((s, i) => ({
          name: s.options.name,
          ...(i === 0 ? { say: '\nstopping services…' } : {}),
          run: () => s.stop(),
        })),
        { name: 'simulated Nylas API', run: () => api?.close() },
        { name: 'record counter', run: () => counter?.stop() },
        { name: 'Kafka admin client', run: () => admin.disconnect() },
        infraWasRunning
          ? {
              name: 'infrastructure',
              say: 'Kafka and the registry were already running before `up`; left running (npm run stop stops them).',
              run: () => undefined,
            }
          : {
              name: 'Kafka and the registry',
              say: 'stopping Kafka and the registry…',
              run: () => runtime.stop(),
            },
      ],
      print,
    );

  try {
    await admin.connect();
    if (stop.isRequested()) return;
    const topics = await ensureTopics(admin, topicPlan(config.topics));
    for (const w of topics.warnings) print(`warning: ${w}`);
    const registry = createSchemaRegistry(config.registry);
    const ids = await retryStartupStep(
      () => registerDomainSchemas(registry, config.topics),
      (err) => print(`registering the schemas failed, retrying: ${errorMessage(err)}`),
    );
    print(
      `topics: ${topics.created.length} created, ${topics.existing.length} present; schemas: ${ids.size} registered`,
    );

    counter = await RecordCounter.start(kafkaClient, admin, [
      config.topics.raw,
      ...domainTopicNames(config.topics),
      config.topics.dlq,
      config.topics.rejected,
    ]);
    if (stop.isRequested()) return;
    const { file: secretsFile, secret } = await localSecret(runtime);
    // Without a real Nylas API key (and always for the demo) the processor expands truncated messages
    // against the simulated Nylas, so the local all-in-one runs with no account at all.
    const simulated = options.demo || !process.env.NYLAS_API_KEY;
    const apiKey = simulated ? `local-${randomBytes(8).toString('hex')}` : (process.env.NYLAS_API_KEY ?? '');
    // A new seed per run: the same seed would repeat notification ids, which the processor rightly dedupes.
    const world = simulated ? createWorld({ seed: Date.now() % 1_000_000, grants: 25 }) : undefined;
    api = world ? await startNylasApi({ world, apiKey, port: 0 }) : undefined;
    if (api && !options.demo)
      print(
        `NYLAS_API_KEY is not set: truncated messages are expanded against a simulated Nylas (${api.url})`,
      );
    const logDir = join(runtime.dir, 'logs');
    const serviceEnv: Record<string, string> = {
      ...runtimeEnv(runtime),
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    };
    const ingress = new ServiceProcess({
      name: 'ingress',
      args: ['ingress'],
      env: {
        ...serviceEnv,
        INGRESS_PORT: String(options.ingressPort),
        INGRESS_HOST: '127.0.0.1',
        NYLAS_WEBHOOK_SECRETS_FILE: secretsFile,
      },
      readyUrl: `http://127.0.0.1:${options.ingressPort}/readyz`,
      logDir,
    });
    const processorEnv: Record<string, string> = {
      ...serviceEnv,
      PROCESSOR_METRICS_PORT: String(options.processorMetricsPort),
      // Beside the instance's Kafka data: `stop` keeps both, so a restart restores only the tail.
      PROCESSOR_STATE_DIR: process.env.PROCESSOR_STATE_DIR ?? join(runtime.dir, 'processor-state'),
    };
    if (api) Object.assign(processorEnv, { NYLAS_API_URI: api.url, NYLAS_API_KEY: apiKey });
    const processor = new ServiceProcess({
      name: 'processor',
      args: ['processor'],
      env: processorEnv,
      readyUrl: `http://127.0.0.1:${options.processorMetricsPort}/readyz`,
      logDir,
    });
    for (const s of [ingress, processor]) {
      if (stop.isRequested()) return;
      // Pushed before it is ready: a service that fails to start is stopped with the rest.
      services.push(s);
      await s.start();
    }
    const webhookUrl = `http://127.0.0.1:${options.ingressPort}/webhooks/nylas`;
    print(`\nnylas-stream is up (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    print(
      `  Kafka      ${runtime.brokers} (Apache Kafka ${runtime.options.kafkaVersion}${runtime.nodes.length > 1 ? `, ${runtime.nodes.length} brokers, topics with replication ${config.topics.replicationFactor}` : ''})`,
    );
    print(`  registry   ${runtime.registryUrl} (Apicurio Registry ${runtime.options.apicurioVersion})`);
    print(
      `  ingress    ${webhookUrl}  (metrics http://127.0.0.1:${options.ingressPort}/metrics, secret in ${secretsFile})`,
    );
    print(
      `  processor  group ${PROCESSOR_GROUP_ID}  (metrics http://127.0.0.1:${options.processorMetricsPort}/metrics)`,
    );
    if (api) print(`  simulated Nylas API ${api.url}`);
    print(`  logs       ${logDir}`);
    print(`  read events: nylas-stream tail nylas.email.messages --from-beginning\n`);

    const urls = {
      ingressMetrics: `http://127.0.0.1:${options.ingressPort}/metrics`,
      processorMetrics: `http://127.0.0.1:${options.processorMetricsPort}/metrics`,
    };
    if (world && options.demo && !stop.isRequested()) {
      const count = options.demoCount;
      const summaryTopics = [...domainTopicNames(config.topics), config.topics.dlq];
      const startOffsets = new Map<string, Map<number, number>>();
      for (const topic of summaryTopics) {
        const offsets = await admin.fetchTopicOffsets(topic);
        startOffsets.set(topic, new Map(offsets.map((o) => [o.partition, Number(o.high)])));
      }
      print(
        `demo: the simulator sends ${count} notifications (duplicates, reordering, truncated messages) to ${webhookUrl}`,
      );
      const run = await runScenario({
        scenario: 'out-of-order',
        world,
        count,
        sender: { url: webhookUrl, secret, concurrency: 32, retryDelaysMs: [500, 2000], health: false },
        logger: silentLogger(),
      });
      const acked = run.report.summary.acknowledged;
      // Wait until the processor has caught up with everything the ingress accepted.
      for (let i = 0; i < 600; i++) {
        const s = await readStatus(admin, counter, config.topics, PROCESSOR_GROUP_ID, urls);
        if (s.lag === 0) break;
        await sleep(250);
      }
      // Exact counts of committed records (watermarks would also count transaction markers).
      const kafka = createKafka(config.kafka, silentLogger(), 'up-summary');
      const counts = await Promise.all(
        summaryTopics.map(async (topic) => {
          let n = 0;
          const from = startOffsets.get(topic);
          await readToEnd(kafka, admin, { topic, timeoutMs: 60_000 }, (partition, m) => {
            if (Number(m.offset) >= (from?.get(partition) ?? 0)) n += 1;
          });
          return n;
        }),
      );
      print(
        `\ndemo summary: ${run.records.length} generated, ${acked} acknowledged by the ingress; records this demo committed:`,
      );
      summaryTopics.forEach((topic, i) => {
        print(`  ${topic.padEnd(28)} ${counts[i]}`);
      });
    }
    if (options.once) return;

    print('Ctrl-C stops everything `up` started.');
    const interactive = process.stdout.isTTY === true;
    let last = 0;
    while (!stop.isRequested()) {
      for (const s of services) {
        if (!s.running)
          throw new Error(`${s.options.name} exited (${JSON.stringify(s.lastExit)}); see ${s.logFile}`);
      }
      const line = formatStatus(await readStatus(admin, counter, config.topics, PROCESSOR_GROUP_ID, urls));
      if (interactive) process.stdout.write(`\r\x1b[2K${line}`);
      else if (Date.now() - last > 10_000) {
        print(line);
        last = Date.now();
      }
      await Promise.race([stop.requested, sleep(1000)]);
    }
  } finally {
    await shutdown();
    stop.dispose();
  }
}
