/**
 * What the bench runs on: a private local runtime (instance "bench", its own ports, data and logs, so
 * the shared "test" and "default" instances are never touched), per-scenario topics with unique names,
 * and the helpers that read a consumer group's progress.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { Admin, Kafka } from 'kafkajs';
import { LocalRuntime, runtimeOptionsFromEnv } from '../../../deploy/local/runtime';
import { loadCommonConfig } from '../../../lib/config';
import { createKafka } from '../../../lib/kafka';
import { applyKafkajsAdaptations } from '../../../lib/kafkajs';
import { silentLogger } from '../../../lib/logger';
import { withTimeout } from '../../../lib/timeout';
import { ensureTopics, topicPlan } from '../../../lib/topics';
import { uniqueTopicEnv } from '../../helpers/topic-env';

/** Below the kernel's ephemeral range (32768–60999), as the e2e harness's (test/e2e/harness/pipeline.ts):
 * the bench's old 49092 was once the local port of an outgoing connection in TIME_WAIT, and its Kafka
 * failed to start (Address already in use). */
export const BENCH_PORTS = {
  kafkaPort: 30492,
  controllerPort: 30493,
  registryPort: 30481,
  registryManagementPort: 30490,
} as const;

export { uniqueName } from '../../helpers/names';

export interface Infra {
  runtime: LocalRuntime;
  /** KAFKA_BROKERS / SCHEMA_REGISTRY_URL for every child. */
  env: Record<string, string>;
  kafka: Kafka;
  admin: Admin;
  stop(destroy: boolean): Promise<void>;
}

export async function startInfra(log: (line: string) => void): Promise<Infra> {
  const runtime = new LocalRuntime(
    runtimeOptionsFromEnv(process.env, {
      instance: 'bench',
      ...BENCH_PORTS,
      log: (l) => log(`runtime: ${l}`),
    }),
  );
  await runtime.start();
  const env = {
    KAFKA_BROKERS: runtime.brokers,
    SCHEMA_REGISTRY_URL: runtime.registryUrl,
    TOPIC_REPLICATION_FACTOR: '1',
  };
  const config = loadCommonConfig({ ...process.env, ...env, LOG_LEVEL: 'silent' });
  applyKafkajsAdaptations(silentLogger());
  const kafka = createKafka(config.kafka, silentLogger(), 'bench');
  const admin = kafka.admin();
  await admin.connect();
  return {
    runtime,
    env,
    kafka,
    admin,
    async stop(destroy) {
      await admin.disconnect().catch(() => undefined);
      if (destroy) await runtime.destroy();
    },
  };
}

/** Unique TOPIC_* names for one scenario, created with the production plan (partitions, configs). */
export async function scenarioTopics(
  infra: Infra,
  prefix: string,
  partitions: number,
): Promise<Record<string, string>> {
  const env = uniqueTopicEnv(prefix, partitions);
  const config = loadCommonConfig({ ...process.env, ...infra.env, ...env });
  await ensureTopics(infra.admin, topicPlan(config.topics));
  return env;
}

export async function createTopic(
  infra: Infra,
  topic: string,
  partitions: number,
  configs: Record<string, string> = {},
) {
  await infra.admin.createTopics({
    waitForLeaders: true,
    topics: [
      {
        topic,
        numPartitions: partitions,
        replicationFactor: 1,
        configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })),
      },
    ],
  });
}

/** How long one lag reading may take: the drains' deadlines are checked between readings, so a reading
 * that hangs would hold a bench session past them (one `npm run bench:ab` session sat 17 min so). */
const LAG_READING_TIMEOUT_MS = 15_000;

/** Records the group has not committed yet on `topic` (high watermark minus committed offset). */
export async function groupLag(admin: Admin, groupId: string, topic: string): Promise<number> {
  const reading = await withTimeout(
    Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]),
    LAG_READING_TIMEOUT_MS,
  );
  if (reading === 'timeout')
    throw new Error(`reading ${groupId}'s lag on ${topic} took over ${LAG_READING_TIMEOUT_MS} ms`);
  const [high, committed] = reading;
  const byPartition = new Map<number, number>();
  for (const t of committed) for (const p of t.partitions) byPartition.set(p.partition, Number(p.offset));
  let lag = 0;
  for (const p of high) {
    const c = byPartition.get(p.partition) ?? -1;
    lag += Number(p.high) - Math.max(0, c);
  }
  return lag;
}

/** Polls until the group has committed everything on `topic`; returns when it did (performance.now()). */
export async function waitForZeroLag(
  admin: Admin,
  groupId: string,
  topic: string,
  timeoutMs: number,
  intervalMs = 100,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lag = await groupLag(admin, groupId, topic).catch(() => Number.POSITIVE_INFINITY);
    if (lag === 0) return performance.now();
    if (Date.now() > deadline) throw new Error(`group ${groupId} still has lag ${lag} on ${topic}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface MachineInfo {
  cpuModel: string;
  cpuCount: number;
  node: string;
  kafka: string;
  registry: string;
  kafkajs: string;
}

export function machineInfo(runtime: LocalRuntime): MachineInfo {
  const list = cpus();
  let kafkajs = 'unknown';
  try {
    const pkg = JSON.parse(readFileSync(join(require.resolve('kafkajs'), '..', 'package.json'), 'utf8'));
    kafkajs = String(pkg.version);
  } catch {
    // keep "unknown"
  }
  return {
    cpuModel: list[0]?.model ?? 'unknown',
    cpuCount: list.length,
    node: process.version,
    kafka: `Apache Kafka ${runtime.options.kafkaVersion} (KRaft, single broker, heap ${runtime.options.kafkaHeap})`,
    registry: `Apicurio Registry ${runtime.options.apicurioVersion}`,
    kafkajs,
  };
}
