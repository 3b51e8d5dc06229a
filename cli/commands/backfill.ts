/**
 * `backfill`: recover through the Nylas list endpoints what Nylas never sends (a grant re-authenticated
 * more than 72 h after it expired, history before its first authentication, a window in which our
 * webhook destination was failed; docs/nylas-contract.md §7). It writes one request per grant to the
 * backfill topic; the backfill coordinator in the processors makes the list calls. Dry run (the plan)
 * unless --execute; --status shows what the coordinator is doing.
 */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { loadNylasApiConfig } from '../../lib/config';
import { BACKFILL_FAMILIES, grantPartition } from '../../processors/backfill/records';
import { PROCESSOR_VARIABLES } from '../../processors/config';
import {
  BackfillWriteError,
  backfillTopic,
  listGrants,
  type WrittenRequest,
  writeRequests,
} from '../ops/backfill';
import {
  type BackfillPlan,
  backfillPlanJson,
  backfillWindowFromOptions,
  formatBackfillPlan,
  type PlannedGrant,
  parseFamilies,
  parseGrantIds,
  requestsOf,
  type SkippedGrant,
  splitListedGrants,
} from '../ops/backfill-plan';
import { backfillStatusJson, formatBackfillStatus, readBackfillStatus } from '../ops/backfill-status';
import { opsContext, table, withAdmin } from '../ops/context';
import { OpsRefusal, refusalsToExitCode } from '../ops/errors';

interface BackfillCliOptions {
  grant: string[];
  allGrants?: boolean;
  since?: string;
  until?: string;
  objects?: string[];
  execute?: boolean;
  status?: boolean;
  json?: boolean;
}

const collectList = (value: string, previous: string[] | undefined): string[] => [
  ...(previous ?? []),
  ...value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

/** Grants shown one by one in the follow-up command before it says "all of them". */
const FOLLOW_GRANTS = 10;

function followLines(written: readonly WrittenRequest[]): string[] {
  const grants = [...new Set(written.map((w) => w.request.grantId))];
  const status =
    grants.length <= FOLLOW_GRANTS
      ? `nylas-stream backfill --status --grant ${grants.join(',')}`
      : 'nylas-stream backfill --status';
  return [
    'follow them:',
    `  ${status}   (running: listing, objects, pages, calls; queued; the last outcome)`,
    "  the processors' metrics: nylas_stream_backfill_running{state} (active, blocked by a 401), " +
      'nylas_stream_backfill_objects_total{family}, nylas_stream_backfill_finished_total{reason="manual",outcome}',
  ];
}

function writtenRows(written: readonly WrittenRequest[]): string[] {
  const rows = [['request', 'grant', 'partition']];
  for (const w of written) rows.push([w.request.id, w.request.grantId, String(w.partition)]);
  return table(rows).map((l) => `  ${l}`);
}

async function showStatus(o: BackfillCliOptions): Promise<void> {
  const extra = [
    ...(o.allGrants ? ['--all-grants'] : []),
    ...(o.since !== undefined ? ['--since'] : []),
    ...(o.until !== undefined ? ['--until'] : []),
    ...(o.objects !== undefined ? ['--objects'] : []),
    ...(o.execute ? ['--execute'] : []),
  ];
  if (extra.length > 0)
    throw new OpsRefusal(`--status only reads (it takes --grant and --json); drop ${extra.join(', ')}`);
  const grants = parseGrantIds(o.grant);
  const { config, kafka } = opsContext();
  const status = await withAdmin(kafka, (admin) => readBackfillStatus(kafka, admin, config.topics.backfill));
  if (o.json) console.log(JSON.stringify(backfillStatusJson(status, grants), null, 2));
  else for (const line of formatBackfillStatus(status, grants, Date.now())) console.log(line);
}

export function registerBackfillCommand(program: Command): void {
  program
    .command('backfill')
    .description(
      'recover through the Nylas list endpoints what Nylas never sent (a grant re-authenticated more than 72 h ' +
        'after it expired, history before its first authentication, a failed webhook destination); prints the ' +
        "plan and writes nothing unless --execute, which writes one request per grant for the processors' " +
        'backfill coordinator',
    )
    .option('--grant <id>', 'grant id(s) to backfill (repeat or comma-separate)', collectList, [])
    .option(
      '--all-grants',
      'every valid grant of the application, listed with GET /v3/grants (NYLAS_API_KEY, NYLAS_API_URI); invalid ones are skipped',
    )
    .option(
      '--since <when>',
      'start of the window (required): Unix seconds, ISO 8601 (UTC unless zoned), or a duration ago ("72h")',
    )
    .option('--until <when>', 'end of the window (default now), in the same forms')
    .option(
      '--objects <families>',
      `what to list (comma-separated): ${BACKFILL_FAMILIES.join(', ')} (default all)`,
      collectList,
    )
    .option('--execute', 'write one backfill request per grant to the backfill topic (TOPIC_BACKFILL)')
    .option(
      '--status',
      'show the backfill topic per grant: the running backfill and its progress, the queued ones, the last outcome, requests not yet applied',
    )
    .option('--json', 'print JSON')
    .action(
      refusalsToExitCode(async (o: BackfillCliOptions) => {
        if (o.status) {
          await showStatus(o);
          return;
        }
        // Everything the command line alone can refuse is refused before any connection is made.
        const families = parseFamilies(o.objects);
        const window = backfillWindowFromOptions(o);
        const named = parseGrantIds(o.grant);
        if (o.allGrants && named.length > 0)
          throw new OpsRefusal('give either --grant or --all-grants, not both');
        if (!o.allGrants && named.length === 0)
          throw new OpsRefusal('give the grants to backfill: --grant <id> (repeatable) or --all-grants');
        const { config, kafka } = opsContext();

        let grants: PlannedGrant[] = named.map((id) => ({ id }));
        let skipped: SkippedGrant[] = [];
        if (o.allGrants) {
          const api = loadNylasApiConfig(
            process.env,
            'required: backfill --all-grants lists the grants through the Nylas API (Dashboard → API Keys)',
          );
          const listed = await listGrants(api);
          ({ grants, skipped } = splitListedGrants(listed));
          if (grants.length === 0) {
            throw new OpsRefusal(
              `no grant to backfill: GET /v3/grants listed ${listed.length} grant(s)` +
                (skipped.length > 0 ? `, all ${skipped.length} of them not valid (${skipped[0]?.why})` : ''),
            );
          }
        }

        await withAdmin(kafka, async (admin) => {
          const topic = await backfillTopic(admin, config.topics);
          const partitions = topic.partitions;
          if (partitions !== undefined)
            grants = grants.map((g) => ({ ...g, partition: grantPartition(g.id, partitions) }));
          const plan: BackfillPlan = {
            source: o.allGrants ? 'api' : 'arguments',
            grants,
            skipped,
            window,
            families,
            topic: topic.name,
            // What the processors call with, when this environment is theirs (as redrive reads their window).
            pageSize: PROCESSOR_VARIABLES.backfillPageSize.read(process.env),
          };
          const execute = o.execute === true;
          if (!o.json) for (const line of formatBackfillPlan(plan, execute)) console.log(line);
          if (!execute) {
            if (o.json) console.log(JSON.stringify(backfillPlanJson(plan, false), null, 2));
            if (topic.problem !== undefined) console.warn(`warning: --execute will refuse: ${topic.problem}`);
            return;
          }
          if (topic.problem !== undefined || partitions === undefined)
            throw new OpsRefusal(topic.problem ?? `no such topic: ${topic.name}`);

          let written: WrittenRequest[];
          try {
            written = await writeRequests(kafka, topic.name, partitions, requestsOf(plan, randomUUID));
          } catch (err) {
            if (err instanceof BackfillWriteError && err.written.length > 0 && !o.json) {
              console.log(`wrote ${err.written.length} backfill request(s) before the failure:`);
              for (const line of writtenRows(err.written)) console.log(line);
            }
            throw err;
          }
          if (o.json) {
            console.log(
              JSON.stringify(
                {
                  ...backfillPlanJson(plan, true),
                  requests: written.map((w) => ({ ...w.request, partition: w.partition })),
                },
                null,
                2,
              ),
            );
            return;
          }
          console.log(`wrote ${written.length} backfill request(s) to ${topic.name}:`);
          for (const line of writtenRows(written)) console.log(line);
          for (const line of followLines(written)) console.log(line);
        });
      }),
    );
}
