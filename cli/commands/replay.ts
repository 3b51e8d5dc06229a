/**
 * `replay`: reset a consumer group's offsets (the processor group, or any downstream group on the
 * domain topics). Dry run by default: prints the plan; `--execute` applies it; refuses while the group
 * has members. For the processor group, `--reset-state` also forgets the dedupe/version state of the
 * replayed partitions so those notifications are emitted again.
 */
import type { Command } from 'commander';
import { loadWindowConfig, PROCESSOR_VARIABLES } from '../../processors/config';
import { opsContext, withAdmin } from '../ops/context';
import { OpsRefusal, refusalsToExitCode } from '../ops/errors';
import {
  assertGroupInactive,
  committedTopics,
  countBeyondWindow,
  executeReplay,
  gatherPartitionStates,
  groupActivity,
} from '../ops/replay';
import {
  beyondWindowTotal,
  changedRows,
  formatPlan,
  planReplay,
  replayTargetFromOptions,
} from '../ops/replay-plan';
import { executeStateReset, planStateReset, stateResetCount } from '../ops/state-reset';

interface ReplayCliOptions {
  group: string;
  topic: string[];
  toDatetime?: string;
  toEarliest?: boolean;
  toLatest?: boolean;
  shiftBy?: string;
  execute?: boolean;
  resetState?: boolean;
  beyondWindow?: boolean;
}

const collect = (value: string, previous: string[]): string[] => [
  ...previous,
  ...value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description(
      "move a consumer group's committed offsets to replay (or skip) records; prints the plan " +
        '(partition, current, target, records to reprocess) and changes nothing unless --execute',
    )
    .requiredOption(
      '--group <id>',
      'consumer group, e.g. nylas-stream-processor or a downstream team’s group',
    )
    .option(
      '--topic <topic>',
      'topic(s) to reset (repeat or comma-separate); default: those the group committed on',
      collect,
      [],
    )
    .option(
      '--to-datetime <when>',
      'first records at/after an ISO-8601 time (UTC unless zoned), epoch ms, or "2h" ago',
    )
    .option('--to-earliest', 'the earliest offsets still in the log')
    .option('--to-latest', 'the end of the log (skip everything not yet processed)')
    .option('--shift-by <n>', 'move each partition by n records (negative replays), e.g. --shift-by=-500')
    .option(
      '--reset-state',
      'processor group only: also forget dedupe/version state of the replayed partitions',
    )
    .option(
      '--beyond-window',
      'processor group: replay even when records to reprocess lie beyond ACCEPT_WINDOW (the processor dead-letters them as BEYOND_WINDOW; `redrive --beyond-window` emits them)',
    )
    .option('--execute', 'apply the plan (the group must have no running members)')
    .action(
      refusalsToExitCode(async (o: ReplayCliOptions) => {
        const { config, kafka } = opsContext();
        const target = replayTargetFromOptions(o);
        const processorGroup = PROCESSOR_VARIABLES.groupId.read(process.env);
        const isProcessor = o.group === processorGroup;
        if (o.resetState && !isProcessor) {
          throw new OpsRefusal(
            `--reset-state applies only to the processor group ("${processorGroup}"); a downstream group has no state to reset`,
          );
        }
        await withAdmin(kafka, async (admin) => {
          let topics = o.topic;
          if (topics.length === 0) topics = await committedTopics(admin, o.group);
          if (topics.length === 0 && isProcessor) topics = [config.topics.raw];
          if (topics.length === 0) {
            throw new OpsRefusal(
              `group "${o.group}" has no committed offsets; name the topic(s) with --topic`,
            );
          }
          if (o.resetState && topics.some((t) => t !== config.topics.raw)) {
            throw new OpsRefusal(
              `--reset-state replays the raw topic (${config.topics.raw}) only; got ${topics.join(', ')}`,
            );
          }
          const planned = planReplay(
            o.group,
            await gatherPartitionStates(admin, o.group, topics, target),
            target,
          );
          // What the processor would refuse as BEYOND_WINDOW (processors/stages/window.ts), counted.
          const plan =
            isProcessor && topics.includes(config.topics.raw)
              ? await countBeyondWindow(kafka, admin, planned, config.topics.raw, loadWindowConfig())
              : planned;
          for (const line of formatPlan(plan)) console.log(line);
          const beyond = beyondWindowTotal(plan);
          if (beyond > 0) {
            console.warn(
              `warning: ${beyond} record(s) to reprocess lie beyond the acceptance window (ACCEPT_WINDOW): the processor ` +
                'no longer remembers enough to emit them safely and dead-letters them as BEYOND_WINDOW. ' +
                (o.beyondWindow
                  ? 'Re-emit them, if you must, with `redrive --reason BEYOND_WINDOW --beyond-window`.'
                  : '--execute refuses this replay unless --beyond-window.'),
            );
          }

          const activity = await groupActivity(admin, o.group);
          if (activity.members > 0) {
            console.warn(
              `warning: group "${o.group}" has ${activity.members} active member(s) (${activity.state}); --execute will refuse until they stop`,
            );
          }
          const replayed = plan.rows.filter((r) => r.reprocess > 0).map((r) => r.partition);
          const statePlan = o.resetState
            ? await planStateReset(kafka, admin, config.topics.state, replayed)
            : undefined;
          if (statePlan) {
            console.log(
              `state: ${stateResetCount(statePlan)} dedupe/version/progress entr(ies) of partition(s) [${replayed.join(', ')}] ` +
                `in ${config.topics.state} will be forgotten`,
            );
            console.warn(
              'warning: with --reset-state the processor emits the replayed notifications again: downstream consumers ' +
                'will see those events a second time (same event ids, so idempotent consumers are unaffected)',
            );
          } else if (isProcessor && replayed.length > 0) {
            console.warn(
              'note: the processor remembers what it emitted (DEDUPE_WINDOW); replayed notifications it already ' +
                'emitted are suppressed as duplicates. Add --reset-state to emit them again.',
            );
          }
          if (plan.rows.some((r) => r.skip > 0)) {
            console.warn(
              'warning: this moves forward: the records counted as "skip" will never be processed by this group',
            );
          }

          if (!o.execute) {
            console.log('dry run: nothing changed; add --execute to apply this plan');
            return;
          }
          if (beyond > 0 && !o.beyondWindow) {
            throw new OpsRefusal(
              `${beyond} record(s) to reprocess lie beyond the processor's acceptance window; add --beyond-window to replay anyway (they will be dead-lettered as BEYOND_WINDOW)`,
            );
          }
          await assertGroupInactive(admin, o.group);
          if (statePlan)
            console.log(`state: wrote ${await executeStateReset(kafka, statePlan)} tombstone(s)`);
          const changed = await executeReplay(admin, plan);
          console.log(
            `done: ${changed} partition offset(s) of group "${o.group}" moved (${changedRows(plan).reduce((n, r) => n + r.reprocess, 0)} record(s) to reprocess)`,
          );
        });
      }),
    );
}
