/**
 * `redrive`: dead letters back onto the raw topic after a fix, filtered by reason, time range or grant.
 * Dry run (counts) unless --execute.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { loadWindowConfig } from '../../processors/config';
import { opsContext, withAdmin } from '../ops/context';
import { refusalsToExitCode } from '../ops/errors';
import { formatRedriveSummary, redrive, redriveFilterFromOptions } from '../ops/redrive';

interface RedriveCliOptions {
  from?: string;
  to?: string;
  filter: string[];
  reason: string[];
  grant?: string;
  since?: string;
  until?: string;
  limit?: number;
  list?: boolean;
  execute?: boolean;
  beyondWindow?: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];
const collectList = (value: string, previous: string[]): string[] => [
  ...previous,
  ...value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

function positiveInt(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError('expected a positive integer');
  return Number(value);
}

export function registerRedriveCommand(program: Command): void {
  program
    .command('redrive')
    .description(
      'put dead letters back on the raw topic (original bytes and ingress headers) after a fix; ' +
        'counts by reason and writes nothing unless --execute',
    )
    .option('--from <topic>', 'dead-letter topic (default TOPIC_DLQ, nylas.webhooks.dlq)')
    .option('--to <topic>', 'topic to write to (default TOPIC_RAW, nylas.webhooks.raw)')
    .option('--filter <key=value>', 'reason=…, grant=…, stage=…, since=…, until=… (repeatable)', collect, [])
    .option(
      '--reason <codes>',
      'only these reasons, e.g. NYLAS_API_UNAUTHORIZED (comma-separated, repeatable)',
      collectList,
      [],
    )
    .option('--grant <id>', 'only dead letters of this grant')
    .option('--since <when>', 'dead-lettered at/after: ISO-8601, epoch ms, or "2h" ago')
    .option('--until <when>', 'dead-lettered before: ISO-8601, epoch ms, or "30m" ago')
    .option('--limit <n>', 'at most this many records', positiveInt)
    .option('--list', 'also list each matching dead letter')
    .option(
      '--beyond-window',
      'also put back records older than ACCEPT_WINDOW, marked so the processor accepts them (still deduplicated and ordered); refused otherwise',
    )
    .option('--execute', 'write the matching records to the raw topic')
    .action(
      refusalsToExitCode(async (o: RedriveCliOptions) => {
        const { config, kafka } = opsContext();
        const options = {
          from: o.from ?? config.topics.dlq,
          to: o.to ?? config.topics.raw,
          filter: redriveFilterFromOptions(o),
          execute: o.execute === true,
          window: loadWindowConfig(),
          beyondWindow: o.beyondWindow === true,
          ...(o.limit !== undefined ? { limit: o.limit } : {}),
        };
        const summary = await withAdmin(kafka, (admin) => redrive(kafka, admin, options));
        for (const line of formatRedriveSummary(options, summary, o.list === true)) console.log(line);
        const notRedrivable = [...summary.byReason.values()].reduce(
          (n, r) => n + r.records - r.redrivable,
          0,
        );
        if (notRedrivable > 0) {
          console.warn(
            `warning: ${notRedrivable} matching record(s) are marked not redrivable (bad input such as malformed JSON); ` +
              'unless the processor was changed to accept them they will be dead-lettered again',
          );
        }
      }),
    );
}
