/**
 * `tail TOPIC`: decoded records for humans (Avro through the registry, or JSON/text) with key,
 * partition, offset and timestamp.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { createSchemaRegistry } from '../../lib/schema-registry';
import { opsContext, withAdmin } from '../ops/context';
import { formatTailRecord, tail, tailRecordJson } from '../ops/tail';

function nonNegativeInt(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a non-negative integer');
  return Number(value);
}

interface TailCliOptions {
  fromBeginning?: boolean;
  last: number;
  follow?: boolean;
  grant?: string;
  partition?: number;
  max?: number;
  json?: boolean;
  headers?: boolean;
}

export function registerTailCommand(program: Command): void {
  program
    .command('tail')
    .description(
      'print records of TOPIC decoded (Avro via the schema registry, else JSON or text) with key, partition, ' +
        'offset and timestamp; stops at the end offsets seen at start unless --follow',
    )
    .argument('<topic>', 'topic name, e.g. nylas.email.messages or nylas.webhooks.dlq')
    .option('--from-beginning', 'start at the earliest offset of each partition')
    .option(
      '--last <n>',
      'records per partition before the end to start from (default 10)',
      nonNegativeInt,
      10,
    )
    .option('-f, --follow', 'keep printing new records until Ctrl-C')
    .option('--grant <id>', 'only records of this grant (the record key)')
    .option('--partition <n>', 'only this partition', nonNegativeInt)
    .option('--max <n>', 'stop after this many records', nonNegativeInt)
    .option('--headers', 'print record headers (signatures redacted)')
    .option('--json', 'one JSON object per line instead of the human format')
    .action(async (topic: string, o: TailCliOptions) => {
      const { config, kafka } = opsContext();
      const registry = createSchemaRegistry(config.registry);
      const abort = new AbortController();
      const onSignal = () => abort.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const shown = await withAdmin(kafka, (admin) =>
          tail(
            { kafka, admin, registry },
            {
              topic,
              fromBeginning: o.fromBeginning === true,
              last: o.last,
              follow: o.follow === true,
              grant: o.grant,
              partition: o.partition,
              max: o.max,
            },
            (r) =>
              console.log(
                o.json ? tailRecordJson(r, o.headers === true) : formatTailRecord(r, o.headers === true),
              ),
            abort.signal,
          ),
        );
        if (!o.json) console.warn(`${shown} record(s)`);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
