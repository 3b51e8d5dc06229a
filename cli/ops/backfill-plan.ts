/**
 * The backfill plan: which grants, which window, which object families, and exactly which list calls
 * the backfill coordinator (processors/backfill/) will make for them (docs/nylas-contract.md §7). Pure,
 * so what the dry run prints is what --execute requests. The command only writes requests; the
 * coordinator in each processor makes the calls, for the grants of its partitions.
 */
import { parseDuration } from '../../lib/config';
import { isReconciled } from '../../processors/backfill/known-objects';
import { type ListingName, listingsOf } from '../../processors/backfill/listing';
import {
  BACKFILL_FAMILIES,
  type BackfillFamily,
  type BackfillRequest,
} from '../../processors/backfill/records';
import { table } from './context';
import { OpsRefusal } from './errors';

/** Nylas's maximum page size (§4.2), the default of the processors' BACKFILL_PAGE_SIZE. */
export const LIST_PAGE_LIMIT = 200;

/** Providers where `updated_after`/`updated_before` on events work (§7: Google, Microsoft, EWS only). */
export const EVENTS_UPDATED_FILTER_PROVIDERS: readonly string[] = ['google', 'microsoft', 'ews'];

/** Grants listed per plan line before the rest is summarised (--all-grants may find thousands). */
const SHOWN_GRANTS = 50;

/** The window, Unix seconds (Nylas's clock, the unit of every list filter). */
export interface BackfillWindow {
  since: number;
  until: number;
}

export interface PlannedGrant {
  id: string;
  /** Known when the grants came from GET /v3/grants. */
  provider?: string;
  /** The backfill topic's partition of the grant, when the topic was found. */
  partition?: number;
}

export interface SkippedGrant {
  id: string;
  provider?: string;
  why: string;
}

export interface BackfillPlan {
  /** Where the grants came from: the command line or GET /v3/grants (--all-grants). */
  source: 'arguments' | 'api';
  grants: PlannedGrant[];
  skipped: SkippedGrant[];
  window: BackfillWindow;
  families: BackfillFamily[];
  topic: string;
  /** `limit` of the coordinator's calls (BACKFILL_PAGE_SIZE, as this environment says). */
  pageSize: number;
}

/** One listing of the coordinator's walk (processors/backfill/listing.ts), as a call template over
 * `{grant_id}` (and `{calendar_id}`). */
export interface Listing {
  listing: ListingName;
  call: string;
  /** What the window filters on: receipt time, update time, or nothing (listed whole). */
  filter: 'received' | 'updated' | 'whole';
  /** False for calendars listed only for their ids (events wanted, calendars not). */
  emits: boolean;
}

// ---- options ------------------------------------------------------------------------------------

/**
 * `--since`/`--until`: Unix seconds ("1772355600"), an ISO 8601 date-time ("2026-03-01T09:00:00Z";
 * without a zone it is UTC; a date alone is its midnight UTC), or a duration ago ("72h", "30m", "7d").
 * Answers epoch milliseconds (the caller rounds to seconds outward).
 */
export function parseBackfillTime(value: string, option: string, now: number = Date.now()): number {
  const v = value.trim();
  const expected =
    'Unix seconds (1772355600), an ISO 8601 date-time (2026-03-01T09:00:00Z) or a duration ago (72h, 30m, 7d)';
  // Twelve digits and more are milliseconds (Unix seconds reach 12 digits in the year 5138): a slip
  // that would put the window thousands of years away, refused rather than guessed.
  if (/^\d{12,}$/.test(v))
    throw new OpsRefusal(`${option} "${value}" looks like epoch milliseconds; give ${expected}`);
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (/^\d+(\.\d+)?\s*[a-z]+$/i.test(v)) {
    const ago = parseDuration(v);
    if (ago === undefined) throw new OpsRefusal(`${option} expects ${expected}, got "${value}"`);
    return now - ago;
  }
  // Only ISO-looking text: Date.parse also takes "March 1" and "1/3/2026", which mean different days to
  // different people.
  if (!/^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?([zZ]|[+-]\d{2}:?\d{2})?$/.test(v))
    throw new OpsRefusal(`${option} expects ${expected}, got "${value}"`);
  const zoned = /[zZ]|[+-]\d{2}:?\d{2}$/.test(v.slice(10)) || v.length === 10 ? v : `${v}Z`;
  const t = Date.parse(zoned);
  // Date.parse rolls 2026-02-30 over to March 2 instead of refusing it.
  const [y, m, d] = v.slice(0, 10).split('-').map(Number) as [number, number, number];
  const day = new Date(Date.UTC(y, m - 1, d));
  if (Number.isNaN(t) || day.getUTCMonth() !== m - 1 || day.getUTCDate() !== d)
    throw new OpsRefusal(`${option} is not a valid date-time: "${value}"`);
  if (t < 0) throw new OpsRefusal(`${option} lies before 1970 (Unix seconds cannot say it): "${value}"`);
  return t;
}

/**
 * The window in Unix seconds, rounded outward (since down, until up) so a window given to the
 * millisecond never loses the second it starts or ends in. `until` defaults to now.
 */
export function backfillWindowFromOptions(
  o: { since?: string; until?: string },
  now: number = Date.now(),
): BackfillWindow {
  if (o.since === undefined)
    throw new OpsRefusal(
      '--since is required: the start of the window, e.g. --since 2026-03-01T09:00:00Z or --since 72h',
    );
  const sinceMs = parseBackfillTime(o.since, '--since', now);
  const untilMs = o.until === undefined ? now : parseBackfillTime(o.until, '--until', now);
  const window = { since: Math.floor(sinceMs / 1000), until: Math.ceil(untilMs / 1000) };
  if (sinceMs > now)
    throw new OpsRefusal(`--since (${iso(window.since)}) lies in the future: nothing to backfill yet`);
  if (window.until < window.since)
    throw new OpsRefusal(
      `--until (${iso(window.until)}) lies before --since (${iso(window.since)}): nothing to backfill`,
    );
  return window;
}

/** `--objects messages,events`: the families, each once, in the coordinator's order. All by default. */
export function parseFamilies(values: readonly string[] | undefined): BackfillFamily[] {
  if (values === undefined) return [...BACKFILL_FAMILIES];
  const given = values.map((v) => v.trim().toLowerCase()).filter(Boolean);
  if (given.length === 0)
    throw new OpsRefusal(`--objects needs at least one of ${BACKFILL_FAMILIES.join(', ')}`);
  const unknown = given.filter((f) => !(BACKFILL_FAMILIES as readonly string[]).includes(f));
  if (unknown.length > 0)
    throw new OpsRefusal(
      `--objects: unknown famil${unknown.length === 1 ? 'y' : 'ies'} ${unknown.map((f) => `"${f}"`).join(', ')} ` +
        `(use ${BACKFILL_FAMILIES.join(', ')}; threads have no notifications of their own to recover)`,
    );
  return BACKFILL_FAMILIES.filter((f) => given.includes(f));
}

/**
 * `--grant` values, each once. Refuses what is not a grant id: the API also takes `email:<addr>`,
 * `external:<id>` and `me` (§4.2), but requests are keyed and partitioned by the grant id, the key of
 * the grant's notifications, and an alias would land on another partition than its grant.
 */
export function parseGrantIds(values: readonly string[]): string[] {
  const ids = [...new Set(values.map((v) => v.trim()).filter(Boolean))];
  for (const id of ids) {
    if (id === 'me' || /^(email|external):/i.test(id) || id.includes('@'))
      throw new OpsRefusal(
        `--grant "${id}" is not a grant id: give the grant's id (the key of its notifications), not an email or alias`,
      );
  }
  return ids;
}

// ---- the plan -------------------------------------------------------------------------------------

/** A grant as GET /v3/grants describes it, reduced to what the plan needs. */
export interface ListedGrant {
  id: string;
  provider?: string;
  /** `grant_status`: `valid` or `invalid` (absent: not said, taken as valid). */
  grantStatus?: string;
}

/**
 * The grants --all-grants backfills: the valid ones. An invalid grant answers 401 to every list call
 * (§7) until its user re-authenticates: its backfill would only sit blocked (processors/backfill/
 * partition.ts), and at the re-authentication the coordinator requests the gap by itself beyond
 * BACKFILL_HORIZON, while Nylas backfills within it.
 */
export function splitListedGrants(listed: readonly ListedGrant[]): {
  grants: PlannedGrant[];
  skipped: SkippedGrant[];
} {
  const grants: PlannedGrant[] = [];
  const skipped: SkippedGrant[] = [];
  const seen = new Set<string>();
  for (const g of listed) {
    if (seen.has(g.id)) continue; // a grant created while paging can shift a later page by one
    seen.add(g.id);
    const provider = g.provider === undefined ? {} : { provider: g.provider };
    if (g.grantStatus === undefined || g.grantStatus === 'valid') grants.push({ id: g.id, ...provider });
    else
      skipped.push({
        id: g.id,
        ...provider,
        why:
          g.grantStatus === 'invalid'
            ? 'with grant_status invalid (every list call would answer 401: the backfill would wait, blocked, until the user re-authenticates)'
            : `with grant_status ${g.grantStatus} (not valid)`,
      });
  }
  return { grants, skipped };
}

/**
 * The calls of each listing, in the coordinator's order (listing.ts listingsOf: messages, calendars,
 * events, contacts, folders; the calendars are listed once, for themselves and for the events' required
 * `calendar_id`), for the window (§7 table; paging per §4.2).
 */
export function listingsFor(
  families: readonly BackfillFamily[],
  w: BackfillWindow,
  pageSize: number = LIST_PAGE_LIMIT,
): Listing[] {
  const limit = `limit=${pageSize}`;
  return listingsOf(families).map((listing): Listing => {
    const emits = listing !== 'calendars' || families.includes('calendars');
    switch (listing) {
      case 'messages':
        return {
          listing,
          call: `GET /v3/grants/{grant_id}/messages?received_after=${w.since}&received_before=${w.until}&${limit}`,
          filter: 'received',
          emits,
        };
      case 'events':
        return {
          listing,
          call: `GET /v3/grants/{grant_id}/events?calendar_id={calendar_id}&updated_after=${w.since}&updated_before=${w.until}&show_cancelled=true&${limit}`,
          filter: 'updated',
          emits,
        };
      default:
        return { listing, call: `GET /v3/grants/{grant_id}/${listing}?${limit}`, filter: 'whole', emits };
    }
  });
}

/** Providers of planned grants whose events cannot be filtered by update time, with counts. */
export function wholeEventProviders(grants: readonly PlannedGrant[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const g of grants) {
    if (g.provider === undefined || EVENTS_UPDATED_FILTER_PROVIDERS.includes(g.provider)) continue;
    out.set(g.provider, (out.get(g.provider) ?? 0) + 1);
  }
  return out;
}

/** What a backfill of these families cannot bring back, said plainly (§7 and the list endpoints). */
export function unrecoverable(plan: Pick<BackfillPlan, 'families' | 'grants'>): string[] {
  const has = (f: BackfillFamily) => plan.families.includes(f);
  const lines: string[] = [];
  if (has('messages')) {
    lines.push(
      'Changes to messages received before the window (read, starred, moved, deleted) cannot be found by time: ' +
        'received_after/received_before filter on receipt, not on change. Move --since back to reach them ' +
        '(every message received since then is listed again).',
      'Messages deleted in the window are in no list: their deletions are not recovered.',
    );
  }
  if (has('events')) {
    const whole = wholeEventProviders(plan.grants);
    const which =
      whole.size === 0
        ? ''
        : ` Here: ${[...whole.entries()].map(([p, n]) => `${n} ${p} grant(s)`).join(', ')}.`;
    lines.push(
      `Events of grants on IMAP, iCloud and Yahoo (any provider but Google, Microsoft and EWS) cannot be filtered by ` +
        `update time: Nylas ignores updated_after/updated_before there, so every event of every calendar is listed.${which}`,
      'Deleted events come back only as cancelled ones (show_cancelled=true) where the provider keeps them; ' +
        'events removed outright are in no list.',
    );
  }
  const whole = plan.families.filter(isReconciled);
  if (whole.length > 0) {
    lines.push(
      `${whole.join(', ')}: no time filter exists, so all of them are listed and emitted again, changed or not. ` +
        'Those deleted meanwhile are absent: the ones the pipeline had emitted are emitted as deleted when the ' +
        'backfill completes (reconciliation); one created and deleted while nothing reached us was never emitted ' +
        'and is not.',
    );
  }
  lines.push(
    'Notifications without an object to list are not recovered: tracking (opens, link clicks, replies), send ' +
      'results and bounces, bookings, notetaker, grant events.',
    'The steps an object went through in the window: it arrives once, as its state now.',
  );
  return lines;
}

function iso(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace('.000Z', 'Z');
}

/** "75h", "3d 4h", "12m": how long the window is. */
export function spanText(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 4 * 86_400)
    return `${Math.floor(seconds / 3600)}h${seconds % 3600 >= 60 ? ` ${Math.floor((seconds % 3600) / 60)}m` : ''}`;
  return `${Math.floor(seconds / 86_400)}d ${Math.floor((seconds % 86_400) / 3600)}h`;
}

/** A word safe in a POSIX shell as it is, else single-quoted. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9._:,=/+-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

/** The command that requests exactly this plan: the window in Unix seconds, so "72h" does not move
 * between the dry run and --execute. */
export function executeCommand(plan: BackfillPlan): string {
  const words = ['nylas-stream', 'backfill'];
  if (plan.source === 'api') words.push('--all-grants');
  else for (const g of plan.grants) words.push('--grant', shellWord(g.id));
  words.push('--since', String(plan.window.since), '--until', String(plan.window.until));
  if (plan.families.length !== BACKFILL_FAMILIES.length) words.push('--objects', plan.families.join(','));
  words.push('--execute');
  return words.join(' ');
}

/** The plan for people: grants, window, families, each list call, what cannot be recovered. */
export function formatBackfillPlan(plan: BackfillPlan, execute: boolean): string[] {
  const { window: w } = plan;
  const lines = [
    `backfill plan${execute ? '' : ' (dry run)'}: ${plan.grants.length} grant(s) → ${plan.topic}`,
    `window     ${iso(w.since)} … ${iso(w.until)} (Unix seconds ${w.since} … ${w.until}; ${spanText(w.until - w.since)})`,
    `families   ${plan.families.join(', ')}`,
  ];
  if (plan.source === 'api')
    lines.push(
      `grants     from GET /v3/grants: ${plan.grants.length + plan.skipped.length} listed, ${plan.grants.length} valid`,
    );
  const known = plan.grants.some((g) => g.provider !== undefined);
  const placed = plan.grants.some((g) => g.partition !== undefined);
  const rows = [['grant', ...(known ? ['provider'] : []), ...(placed ? ['partition'] : [])]];
  for (const g of plan.grants.slice(0, SHOWN_GRANTS)) {
    rows.push([
      g.id,
      ...(known ? [g.provider ?? '-'] : []),
      ...(placed ? [g.partition === undefined ? '-' : String(g.partition)] : []),
    ]);
  }
  lines.push(...table(rows).map((l) => `  ${l}`));
  if (plan.grants.length > SHOWN_GRANTS)
    lines.push(`  … and ${plan.grants.length - SHOWN_GRANTS} more (--json lists them all)`);
  if (plan.skipped.length > 0) {
    const why = new Map<string, string[]>();
    for (const s of plan.skipped) why.set(s.why, [...(why.get(s.why) ?? []), s.id]);
    lines.push(`skipped ${plan.skipped.length} grant(s):`);
    for (const [reason, ids] of why) {
      const shown = ids.slice(0, SHOWN_GRANTS).join(', ');
      lines.push(`  ${ids.length} ${reason}: ${shown}${ids.length > SHOWN_GRANTS ? ', …' : ''}`);
    }
  }
  lines.push(
    'for each grant, the backfill coordinator (in the processor owning its partition) lists, in this order, every ' +
      `call paged (limit=${plan.pageSize}, page_token ← next_cursor until it is null):`,
  );
  for (const l of listingsFor(plan.families, w, plan.pageSize)) {
    const note =
      l.listing === 'events'
        ? 'once per calendar listed above; updated in the window'
        : l.filter === 'received'
          ? 'received in the window'
          : l.emits
            ? 'whole: no time filter exists'
            : 'whole, for the ids the events need; not emitted';
    lines.push(`  ${l.listing.padEnd(10)} ${l.call}   (${note})`);
  }
  lines.push('each listed object becomes one backfilled <object>.updated notification on the raw topic');
  lines.push('what this cannot recover:');
  for (const u of unrecoverable(plan)) lines.push(`  - ${u}`);
  if (!execute) {
    lines.push(
      `dry run: nothing written; to write ${plan.grants.length} backfill request(s) to ${plan.topic}:`,
      `  ${executeCommand(plan)}`,
    );
  }
  return lines;
}

/** The plan as --json prints it. */
export function backfillPlanJson(plan: BackfillPlan, execute: boolean): Record<string, unknown> {
  return {
    execute,
    topic: plan.topic,
    window: { ...plan.window, sinceIso: iso(plan.window.since), untilIso: iso(plan.window.until) },
    families: plan.families,
    grants: plan.grants,
    skipped: plan.skipped,
    listings: listingsFor(plan.families, plan.window, plan.pageSize),
    cannotRecover: unrecoverable(plan),
    ...(execute ? {} : { executeCommand: executeCommand(plan) }),
  };
}

/** One manual request per planned grant (no applicationId: an operator's request names only the grant). */
export function requestsOf(
  plan: BackfillPlan,
  newId: () => string,
  now: number = Date.now(),
): BackfillRequest[] {
  return plan.grants.map((g) => ({
    kind: 'request',
    id: newId(),
    grantId: g.id,
    reason: 'manual',
    since: plan.window.since,
    until: plan.window.until,
    families: [...plan.families],
    requestedAt: now,
  }));
}
