/**
 * `up`, `stop`, `infra status`: the local all-in-one. Infrastructure comes from the no-Docker runtime
 * (deploy/local); later issues add the services and the demo to `up`.
 */
import type { Command } from 'commander';
import { MAX_BROKERS } from '../../deploy/local/config';
import {
  LocalRuntime,
  type LocalRuntimeOptions,
  type RuntimeStatus,
  runtimeEnv,
  runtimeOptionsFromEnv,
} from '../../deploy/local/runtime';
import { INGRESS_VARIABLES } from '../../ingress/config';
import { loadCommonConfig, type Variable } from '../../lib/config';
import { ConfigError } from '../../lib/errors';
import { createKafka } from '../../lib/kafka';
import { applyKafkajsAdaptations } from '../../lib/kafkajs';
import { createLogger } from '../../lib/logger';
import { ensureTopics, topicPlan } from '../../lib/topics';
import { PROCESSOR_VARIABLES } from '../../processors/config';
import { up } from '../up/up';

function printStatus(s: RuntimeStatus): void {
  const mark = (b: boolean) => (b ? 'up  ' : 'down');
  console.log(`local runtime "${s.instance}"`);
  if (s.nodes.length === 1)
    console.log(
      `  kafka     ${mark(s.kafka.running)} Apache Kafka ${s.kafka.version}  KAFKA_BROKERS=${s.kafka.brokers}  pid=${s.kafka.pid ?? '-'}  log=${s.kafka.log}`,
    );
  else {
    console.log(
      `  kafka     ${mark(s.kafka.running)} Apache Kafka ${s.kafka.version}, ${s.nodes.length} brokers  KAFKA_BROKERS=${s.kafka.brokers}`,
    );
    for (const n of s.nodes)
      console.log(`    broker ${n.id}  ${mark(n.running)} ${n.address}  pid=${n.pid ?? '-'}  log=${n.log}`);
  }
  console.log(
    `  registry  ${mark(s.registry.running)} Apicurio Registry ${s.registry.version}  SCHEMA_REGISTRY_URL=${s.registry.url}  pid=${s.registry.pid ?? '-'}  log=${s.registry.log}`,
  );
}

async function infraOnly(runtimeOptions: LocalRuntimeOptions): Promise<void> {
  const started = Date.now();
  const runtime = new LocalRuntime(runtimeOptions);
  const status = await runtime.start();
  const config = loadCommonConfig({ ...process.env, ...runtimeEnv(runtime) });
  const logger = createLogger({ name: 'cli', level: 'warn' });
  applyKafkajsAdaptations(logger);
  const admin = createKafka(config.kafka, logger).admin();
  await admin.connect();
  try {
    const result = await ensureTopics(admin, topicPlan(config.topics));
    for (const w of result.warnings) console.warn(`warning: ${w}`);
    console.log(`topics: ${result.created.length} created, ${result.existing.length} already present`);
  } finally {
    await admin.disconnect();
  }
  printStatus(status);
  console.log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s; stop with: npm run stop`);
}

/** A service's port as `up` needs it: `up` waits on the services' URLs and prints them, so "any free
 * port" (0, which the services themselves accept) cannot be used here. */
function fixedPort(variable: Variable<number>): number {
  const port = variable.read(process.env);
  if (port === 0)
    throw new ConfigError(variable.name, 'must be >= 1 for `up` (it waits on and prints the URL), got 0');
  return port;
}

export function registerInfraCommands(program: Command): void {
  program
    .command('up')
    .description(
      'local all-in-one: Kafka and the schema registry (no Docker needed), topics, schemas, ingress and processor',
    )
    .option('--demo', 'also run a simulated Nylas and send a realistic burst through the pipeline')
    .option('--demo-count <n>', 'notifications the demo sends', '2000')
    .option(
      '--once',
      'exit once everything is up (after the demo, with --demo) instead of waiting for Ctrl-C',
    )
    .option('--infra-only', 'start only Kafka and the registry, create topics, and exit')
    .option(
      '--brokers <n>',
      `Kafka brokers: 1, or 3 for a local cluster (replication 3, min.insync.replicas 2); default LOCAL_KAFKA_BROKER_COUNT, else what the instance last ran with, else 1`,
    )
    .action(
      async (flags: {
        demo?: boolean;
        demoCount: string;
        once?: boolean;
        infraOnly?: boolean;
        brokers?: string;
      }) => {
        const runtime = runtimeOptionsFromEnv();
        if (flags.brokers !== undefined) {
          const n = Number(flags.brokers);
          if (!Number.isInteger(n) || n < 1 || n > MAX_BROKERS)
            throw new ConfigError('--brokers', `expected an integer from 1 to ${MAX_BROKERS}`);
          runtime.brokerCount = n;
        }
        if (flags.infraOnly) {
          await infraOnly(runtime);
          return;
        }
        const demoCount = Number(flags.demoCount);
        if (!Number.isInteger(demoCount) || demoCount < 1)
          throw new ConfigError('--demo-count', 'expected a positive integer');
        await up({
          runtime,
          demo: flags.demo === true,
          demoCount,
          once: flags.once === true,
          ingressPort: fixedPort(INGRESS_VARIABLES.port),
          processorMetricsPort: fixedPort(PROCESSOR_VARIABLES.metricsPort),
          print: (line) => console.log(line),
        });
      },
    );

  program
    .command('stop')
    .description('stop the local Kafka and schema registry started by `up`')
    .action(async () => {
      const r = await new LocalRuntime(runtimeOptionsFromEnv()).stop();
      console.log(`registry: ${r.registry}, kafka: ${r.kafka}`);
    });

  const infra = program.command('infra').description('the no-Docker local runtime');
  infra
    .command('status')
    .description('show whether the local Kafka and registry are running, and where')
    .action(async () => {
      printStatus(await new LocalRuntime(runtimeOptionsFromEnv()).status());
    });
}
