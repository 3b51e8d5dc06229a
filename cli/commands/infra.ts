/**
 * `up`, `stop`, `infra status`: the local all-in-one. Infrastructure comes from the no-Docker runtime
 * (deploy/local); later issues add the services and the demo to `up`.
 */
import type { Command } from 'commander';
import { LocalRuntime, type RuntimeStatus, runtimeOptionsFromEnv } from '../../deploy/local/runtime';
import { loadCommonConfig } from '../../lib/config';
import { createKafka } from '../../lib/kafka';
import { createLogger } from '../../lib/logger';
import { ensureTopics, topicPlan } from '../../lib/topics';

function printStatus(s: RuntimeStatus): void {
  const mark = (b: boolean) => (b ? 'up  ' : 'down');
  console.log(`local runtime "${s.instance}"`);
  console.log(
    `  kafka     ${mark(s.kafka.running)} Apache Kafka ${s.kafka.version}  KAFKA_BROKERS=${s.kafka.brokers}  pid=${s.kafka.pid ?? '-'}  log=${s.kafka.log}`,
  );
  console.log(
    `  registry  ${mark(s.registry.running)} Apicurio Registry ${s.registry.version}  SCHEMA_REGISTRY_URL=${s.registry.url}  pid=${s.registry.pid ?? '-'}  log=${s.registry.log}`,
  );
}

export function registerInfraCommands(program: Command): void {
  program
    .command('up')
    .description('start Kafka and the schema registry locally (no Docker needed) and create the topics')
    .action(async () => {
      const started = Date.now();
      const runtime = new LocalRuntime(runtimeOptionsFromEnv());
      const status = await runtime.start();
      const config = loadCommonConfig({
        ...process.env,
        KAFKA_BROKERS: runtime.brokers,
        SCHEMA_REGISTRY_URL: runtime.registryUrl,
      });
      const admin = createKafka(config.kafka, createLogger({ name: 'cli', level: 'warn' })).admin();
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
    });

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
