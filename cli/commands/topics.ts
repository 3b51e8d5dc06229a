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
      const result = await withAdmin(kafka, (admin) => ensureTopics(admin, plan));
      const report = topicsReport(plan, result);
      for (const line of report.lines) console.log(line);
      for (const w of report.warnings) console.warn(w);
      if (options.strict && result.warnings.length > 0) process.exitCode = 1;
    });
}
