/**
 * `topics create`: the topic plan (lib/topics.ts) applied idempotently, warning on every difference
 * between an existing topic and the configuration.
 */
import type { Command } from 'commander';
import { ensureTopics, topicPlan } from '../../lib/topics';
import { opsContext, withAdmin } from '../ops/context';
import { topicsReport } from '../ops/topics-report';

export function registerTopicsCommands(program: Command): void {
  const topics = program.command('topics').description('the Kafka topics nylas-stream owns');
  topics
    .command('create')
    .description(
      'create missing topics with partitions, replication, retention and compaction from config (TOPIC_*); ' +
        'idempotent; warns when an existing topic differs',
    )
    .option('--strict', 'exit with status 1 when an existing topic differs from the configuration')
    .action(async (options: { strict?: boolean }) => {
      const { config, kafka } = opsContext();
      const plan = topicPlan(config.topics);
      const { result, brokers } = await withAdmin(kafka, async (admin) => ({
        result: await ensureTopics(admin, plan),
        brokers: (await admin.describeCluster()).brokers.length,
      }));
      const report = topicsReport(plan, result);
      for (const line of report.lines) console.log(line);
      for (const w of report.warnings) console.warn(w);
      // TOPIC_REPLICATION_FACTOR defaults to 1 (a development broker); on a cluster that is a topic no
      // broker failure can be survived with. Said, not changed: the configuration decides.
      if (brokers >= 3 && config.topics.replicationFactor < 3)
        console.warn(
          `warning: the cluster has ${brokers} brokers but TOPIC_REPLICATION_FACTOR is ${config.topics.replicationFactor}; set it to 3 (min.insync.replicas=2 then follows) so a broker can fail without losing acknowledged notifications`,
        );
      if (options.strict && result.warnings.length > 0) process.exitCode = 1;
    });
}
