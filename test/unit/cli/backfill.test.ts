/**
 * `backfill`: its options (times, families, grants), the plan it prints (the exact list calls, what
 * cannot be recovered, the command that executes it), the requests it writes (what the coordinator's
 * parseRequest accepts), the grants listing (paging, retries, refusals) and the status folded from the
 * topic.
 */

import { listGrants } from '../../../cli/ops/backfill';
import {
  type BackfillPlan,
  backfillPlanJson,
  backfillWindowFromOptions,
  executeCommand,
  formatBackfillPlan,
  listingsFor,
  parseBackfillTime,
  parseFamilies,
  parseGrantIds,
  requestsOf,
  splitListedGrants,
  unrecoverable,
} from '../../../cli/ops/backfill-plan';
import {
  ago,
  type BackfillTopicRecord,
  backfillStatusJson,
  foldBackfillRecords,
  formatBackfillStatus,
} from '../../../cli/ops/backfill-status';
import { OpsRefusal } from '../../../cli/ops/errors';
import {
  BACKFILL_FAMILIES,
  type BackfillRequest,
  factKey,
  type GrantBackfillState,
  grantKey,
  listedKey,
  parseRequest,
  requestKey,
} from '../../../processors/backfill/records';
import { runCli } from '../../helpers/cli';

const NOW = Date.parse('2026-03-04T12:00:00.400Z');
const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OpsRefusal);
    return (err as Error).message;
  }
  throw new Error('did not refuse');
};

describe('backfill options', () => {
  it('reads Unix seconds, ISO 8601 (UTC unless zoned) and durations ago, in epoch ms', () => {
    expect(parseBackfillTime('1772355600', '--since', NOW)).toBe(1772355600_000);
    expect(parseBackfillTime('2026-03-01T09:00:00Z', '--since', NOW)).toBe(1772355600_000);
    expect(parseBackfillTime('2026-03-01T09:00:00', '--since', NOW)).toBe(1772355600_000);
    expect(parseBackfillTime('2026-03-01T09:00', '--since', NOW)).toBe(1772355600_000);
    expect(parseBackfillTime('2026-03-01T11:00:00+02:00', '--since', NOW)).toBe(1772355600_000);
    expect(parseBackfillTime('2026-03-01', '--since', NOW)).toBe(Date.parse('2026-03-01T00:00:00Z'));
    expect(parseBackfillTime('72h', '--since', NOW)).toBe(NOW - 72 * 3_600_000);
    expect(parseBackfillTime('7d', '--since', NOW)).toBe(NOW - 7 * 86_400_000);
    expect(parseBackfillTime(' 30m ', '--since', NOW)).toBe(NOW - 30 * 60_000);
  });

  it('refuses milliseconds, impossible dates and anything else, naming the option', () => {
    expect(refusal(() => parseBackfillTime('1772355600000', '--since', NOW))).toMatch(
      /--since "1772355600000" looks like epoch milliseconds/,
    );
    expect(refusal(() => parseBackfillTime('2026-02-30T00:00:00Z', '--until', NOW))).toMatch(
      /--until is not a valid date-time/,
    );
    for (const bad of ['yesterday', 'March 1', '1/3/2026', '72x', '-5', ''])
      expect(refusal(() => parseBackfillTime(bad, '--since', NOW))).toMatch(/--since expects Unix seconds/);
  });

  it('rounds the window outward to seconds and defaults --until to now', () => {
    expect(backfillWindowFromOptions({ since: '2026-03-01T09:00:00.900Z' }, NOW)).toEqual({
      since: 1772355600,
      until: Math.ceil(NOW / 1000),
    });
    expect(
      backfillWindowFromOptions({ since: '1772355600', until: '2026-03-02T00:00:00.001Z' }, NOW),
    ).toEqual({ since: 1772355600, until: Date.parse('2026-03-02T00:00:01Z') / 1000 });
    // A window of one second is a window.
    expect(backfillWindowFromOptions({ since: '1772355600', until: '1772355600' }, NOW)).toEqual({
      since: 1772355600,
      until: 1772355600,
    });
  });

  it('refuses a missing --since, --until before --since, and a start in the future', () => {
    expect(refusal(() => backfillWindowFromOptions({}, NOW))).toMatch(/--since is required/);
    expect(
      refusal(() => backfillWindowFromOptions({ since: '2026-03-02T00:00:00Z', until: '2026-03-01' }, NOW)),
    ).toBe('--until (2026-03-01T00:00:00Z) lies before --since (2026-03-02T00:00:00Z): nothing to backfill');
    expect(refusal(() => backfillWindowFromOptions({ since: '2026-03-05T00:00:00Z' }, NOW))).toMatch(
      /--since .* lies in the future/,
    );
  });

  it('takes families once each, in the coordinator order, all by default; refuses unknown ones', () => {
    expect(parseFamilies(undefined)).toEqual([...BACKFILL_FAMILIES]);
    expect(parseFamilies(['folders', 'Messages', 'folders'])).toEqual(['messages', 'folders']);
    expect(refusal(() => parseFamilies(['messages', 'threads', 'mails']))).toBe(
      '--objects: unknown families "threads", "mails" (use messages, events, contacts, calendars, folders; ' +
        'threads have no notifications of their own to recover)',
    );
    expect(refusal(() => parseFamilies([]))).toMatch(/--objects needs at least one/);
  });

  it('takes grant ids once each and refuses aliases (requests are partitioned by the grant id)', () => {
    expect(parseGrantIds(['g-1', ' g-2 ', 'g-1', ''])).toEqual(['g-1', 'g-2']);
    for (const alias of ['me', 'email:a@example.com', 'external:42', 'a@example.com'])
      expect(refusal(() => parseGrantIds([alias]))).toMatch(/is not a grant id/);
  });
});

const WINDOW = { since: 1772355600, until: 1772625600 };
const plan = (over: Partial<BackfillPlan> = {}): BackfillPlan => ({
  source: 'arguments',
  grants: [
    { id: 'grant-a', partition: 1 },
    { id: 'grant-b', partition: 0 },
  ],
  skipped: [],
  window: WINDOW,
  families: [...BACKFILL_FAMILIES],
  topic: 'nylas-stream.backfill',
  pageSize: 200,
  ...over,
});

describe('backfill plan', () => {
  it('lists as the coordinator walks: messages by receipt, calendars once, events per calendar by update, the rest whole', () => {
    expect(listingsFor([...BACKFILL_FAMILIES], WINDOW)).toEqual([
      {
        listing: 'messages',
        call: 'GET /v3/grants/{grant_id}/messages?received_after=1772355600&received_before=1772625600&limit=200',
        filter: 'received',
        emits: true,
      },
      {
        listing: 'calendars',
        call: 'GET /v3/grants/{grant_id}/calendars?limit=200',
        filter: 'whole',
        emits: true,
      },
      {
        listing: 'events',
        call: 'GET /v3/grants/{grant_id}/events?calendar_id={calendar_id}&updated_after=1772355600&updated_before=1772625600&show_cancelled=true&limit=200',
        filter: 'updated',
        emits: true,
      },
      {
        listing: 'contacts',
        call: 'GET /v3/grants/{grant_id}/contacts?limit=200',
        filter: 'whole',
        emits: true,
      },
      {
        listing: 'folders',
        call: 'GET /v3/grants/{grant_id}/folders?limit=200',
        filter: 'whole',
        emits: true,
      },
    ]);
    // Events without calendars: the calendars are still listed (calendar_id is required), not emitted.
    expect(
      listingsFor(['events'], WINDOW, 50).map((l) => [l.listing, l.emits, l.call.endsWith('limit=50')]),
    ).toEqual([
      ['calendars', false, true],
      ['events', true, true],
    ]);
    expect(formatBackfillPlan(plan({ families: ['events'] }), false).join('\n')).toContain(
      '(whole, for the ids the events need; not emitted)',
    );
  });

  it('prints the grants, the window in ISO and Unix seconds, every call, what cannot be recovered and how to execute', () => {
    const text = formatBackfillPlan(plan(), false).join('\n');
    expect(text).toContain('backfill plan (dry run): 2 grant(s) → nylas-stream.backfill');
    expect(text).toContain(
      'window     2026-03-01T09:00:00Z … 2026-03-04T12:00:00Z (Unix seconds 1772355600 … 1772625600; 75h)',
    );
    expect(text).toContain('families   messages, events, contacts, calendars, folders');
    expect(text).toMatch(/grant-a\s+1\n\s+grant-b\s+0/);
    expect(text).toContain('received_after=1772355600&received_before=1772625600&limit=200');
    expect(text).toContain(
      'events?calendar_id={calendar_id}&updated_after=1772355600&updated_before=1772625600&show_cancelled=true&limit=200',
    );
    expect(text).toContain('page_token ← next_cursor');
    expect(text).toContain('(once per calendar listed above; updated in the window)');
    expect(text).toMatch(/messages .*\n.*calendars .*\n.*events .*\n.*contacts .*\n.*folders /);
    expect(text).toContain('Changes to messages received before the window');
    expect(text).toContain('IMAP, iCloud and Yahoo');
    expect(text).toContain(
      'nylas-stream backfill --grant grant-a --grant grant-b --since 1772355600 --until 1772625600 --execute',
    );
    expect(formatBackfillPlan(plan(), true).join('\n')).not.toContain('dry run');
  });

  it('says only what applies to the families asked for', () => {
    const messages = unrecoverable({ families: ['messages'], grants: [] }).join('\n');
    expect(messages).toContain('received_after/received_before filter on receipt');
    expect(messages).not.toContain('updated_after');
    expect(messages).not.toContain('no time filter exists');
    const folders = unrecoverable({ families: ['folders'], grants: [] }).join('\n');
    expect(folders).toContain('folders: no time filter exists');
    expect(folders).not.toContain('received_after');
    expect(executeCommand(plan({ families: ['messages', 'folders'] }))).toContain(
      '--objects messages,folders --execute',
    );
  });

  it('--all-grants: skips grants that are not valid, saying why, and counts providers whose events are listed whole', () => {
    const { grants, skipped } = splitListedGrants([
      { id: 'g-google', provider: 'google', grantStatus: 'valid' },
      { id: 'g-imap', provider: 'imap', grantStatus: 'valid' },
      { id: 'g-expired', provider: 'microsoft', grantStatus: 'invalid' },
      { id: 'g-unsaid', provider: 'yahoo' },
      { id: 'g-google', provider: 'google', grantStatus: 'valid' },
    ]);
    expect(grants.map((g) => g.id)).toEqual(['g-google', 'g-imap', 'g-unsaid']);
    expect(skipped).toEqual([
      {
        id: 'g-expired',
        provider: 'microsoft',
        why: 'with grant_status invalid (every list call would answer 401: the backfill would wait, blocked, until the user re-authenticates)',
      },
    ]);
    const p = plan({ source: 'api', grants, skipped });
    const text = formatBackfillPlan(p, false).join('\n');
    expect(text).toContain('grants     from GET /v3/grants: 4 listed, 3 valid');
    expect(text).toContain('skipped 1 grant(s):');
    expect(text).toContain('1 with grant_status invalid (every list call would answer 401');
    expect(text).toContain('Here: 1 imap grant(s), 1 yahoo grant(s).');
    expect(text).toMatch(/g-imap\s+imap/);
    expect(executeCommand(p)).toBe(
      'nylas-stream backfill --all-grants --since 1772355600 --until 1772625600 --execute',
    );
  });

  it('shortens a long grant list (the JSON has them all) and quotes odd ids for the shell', () => {
    const many = Array.from({ length: 60 }, (_, i) => ({ id: `g-${i}` }));
    const text = formatBackfillPlan(plan({ grants: many }), false).join('\n');
    expect(text).toContain('… and 10 more (--json lists them all)');
    expect((backfillPlanJson(plan({ grants: many }), false).grants as unknown[]).length).toBe(60);
    expect(executeCommand(plan({ grants: [{ id: "it's odd" }] }))).toContain(`--grant 'it'\\''s odd'`);
  });

  it('writes one manual request per grant that the coordinator accepts as written', () => {
    let n = 0;
    const requests = requestsOf(plan({ families: ['messages', 'events'] }), () => `req-${++n}`, NOW);
    expect(requests).toEqual([
      {
        kind: 'request',
        id: 'req-1',
        grantId: 'grant-a',
        reason: 'manual',
        since: WINDOW.since,
        until: WINDOW.until,
        families: ['messages', 'events'],
        requestedAt: NOW,
      },
      expect.objectContaining({ id: 'req-2', grantId: 'grant-b' }),
    ]);
    for (const r of requests) expect(parseRequest(JSON.parse(JSON.stringify(r)))).toEqual(r);
  });
});

describe('backfill --all-grants: GET /v3/grants', () => {
  const api = { apiKey: 'key-1', apiUri: 'https://api.example.test/' };
  type Answer = { status: number; body: unknown; headers?: Record<string, string> };
  function fakeFetch(answers: Answer[]) {
    const urls: string[] = [];
    const auth: string[] = [];
    const f = (async (url: URL | string, init?: RequestInit) => {
      urls.push(String(url));
      auth.push(String((init?.headers as Record<string, string> | undefined)?.authorization));
      const a = answers.shift();
      if (a === undefined) throw new Error('no more answers');
      return new Response(JSON.stringify(a.body), { status: a.status, headers: a.headers ?? {} });
    }) as typeof fetch;
    return { f, urls, auth };
  }
  const sleeps: number[] = [];
  const sleep = async (ms: number) => void sleeps.push(ms);

  beforeEach(() => {
    sleeps.length = 0;
  });

  it('pages with limit 200 and page_token ← next_cursor until the cursor is null', async () => {
    const { f, urls, auth } = fakeFetch([
      {
        status: 200,
        body: { data: [{ id: 'g1', provider: 'google', grant_status: 'valid' }], next_cursor: 'c1' },
      },
      {
        status: 200,
        body: { data: [{ id: 'g2', provider: 'imap', grant_status: 'invalid' }], next_cursor: null },
      },
    ]);
    await expect(listGrants(api, { fetch: f, sleep })).resolves.toEqual([
      { id: 'g1', provider: 'google', grantStatus: 'valid' },
      { id: 'g2', provider: 'imap', grantStatus: 'invalid' },
    ]);
    expect(urls).toEqual([
      'https://api.example.test/v3/grants?limit=200',
      'https://api.example.test/v3/grants?limit=200&page_token=c1',
    ]);
    expect(auth).toEqual(['Bearer key-1', 'Bearer key-1']);
  });

  it('retries 429 (after Retry-After) and 5xx, then gives up with the API error', async () => {
    const ok = { status: 200, body: { data: [{ id: 'g1' }], next_cursor: null } };
    const limited = {
      status: 429,
      body: { error: { type: 'rate_limit_error', message: 'Too many requests' } },
      headers: { 'retry-after': '3' },
    };
    const { f } = fakeFetch([limited, { status: 503, body: {} }, ok]);
    await expect(listGrants(api, { fetch: f, sleep })).resolves.toEqual([{ id: 'g1' }]);
    expect(sleeps).toEqual([3000, 1000]);
    const down = fakeFetch(
      [504, 504, 504].map((status) => ({
        status,
        body: { error: { type: 'provider_error', message: 'timed out' } },
      })),
    );
    await expect(listGrants(api, { fetch: down.f, sleep, attempts: 3 })).rejects.toThrow(
      'listing grants (GET /v3/grants): Nylas API 504 provider_error: timed out (3 attempts)',
    );
  });

  it('refuses at once on 401 (a wrong key), and on a cursor that repeats', async () => {
    const denied = fakeFetch([
      { status: 401, body: { error: { type: 'unauthorized', message: 'bad key' } } },
    ]);
    await expect(listGrants(api, { fetch: denied.f, sleep })).rejects.toThrow(
      /Nylas API 401 unauthorized: bad key \(check NYLAS_API_KEY/,
    );
    const loop = fakeFetch([
      { status: 200, body: { data: [], next_cursor: 'same' } },
      { status: 200, body: { data: [], next_cursor: 'same' } },
    ]);
    await expect(listGrants(api, { fetch: loop.f, sleep })).rejects.toThrow(/a cursor it gave before/);
  });
});

describe('backfill --status', () => {
  const request = (id: string, grantId: string, requestedAt = NOW - 120_000): BackfillRequest => ({
    kind: 'request',
    id,
    grantId,
    reason: 'manual',
    since: WINDOW.since,
    until: WINDOW.until,
    families: ['messages'],
    requestedAt,
  });
  const state: GrantBackfillState = {
    kind: 'grant',
    grantId: 'grant-a',
    expiredAt: 1772000000,
    lastSyncAt: 1771990000,
    running: {
      request: { ...request('run-1', 'grant-a', NOW - 600_000), families: ['messages', 'events'] },
      position: { listing: 2, calendarIds: ['c1', 'c2'], calendar: 1, cursor: 'abc' },
      objects: 1200,
      pages: 7,
      calls: 9,
      startedAt: NOW - 300_000,
      blocked: { at: NOW - 30_000, detail: '401: grant expired' },
    },
    queued: [request('queued-1', 'grant-a', NOW - 60_000)],
    last: {
      id: 'old-1',
      reason: 'reauthentication',
      outcome: 'failed',
      detail: '401: the grant expired again',
      objects: 30,
      calls: 4,
      finishedAt: NOW - 7_200_000,
    },
  };
  let offset = 0;
  const rec = (
    partition: number,
    key: string | null,
    value: unknown,
    timestamp = NOW - 60_000,
  ): BackfillTopicRecord => ({
    partition,
    offset: String(offset++),
    key,
    value: value === null ? null : typeof value === 'string' ? value : JSON.stringify(value),
    timestamp,
  });
  const records = () => {
    offset = 0;
    return recordsFromZero();
  };
  const recordsFromZero = () => [
    rec(1, requestKey('grant-a', 'run-1'), request('run-1', 'grant-a')),
    rec(1, requestKey('grant-a', 'run-1'), null), // applied: tombstoned by the coordinator
    rec(1, grantKey('grant-a'), state),
    rec(0, requestKey('grant-b', 'new-1'), request('new-1', 'grant-b'), NOW - 90_000),
    rec(0, requestKey('grant-b', 'bad-1'), {
      kind: 'request',
      id: 'bad-1',
      grantId: 'grant-b',
      since: 5,
      until: 1,
    }),
    rec(0, factKey('grant-b', 'n-1'), {
      kind: 'fact',
      id: 'n-1',
      grantId: 'grant-b',
      action: 'expired',
      at: 1,
    }),
    rec(2, grantKey('grant-c'), state),
    rec(2, grantKey('grant-c'), null), // forgotten
    rec(2, 'not json', '{}'),
  ];

  it('folds the topic by key: tombstoned inputs are applied, the rest waits', () => {
    const status = foldBackfillRecords('bf', records());
    expect(status.records).toBe(9);
    expect(status.unreadable).toBe(1);
    expect(status.grants.map((g) => g.grantId)).toEqual(['grant-a', 'grant-b']);
    const [a, b] = status.grants;
    expect(a).toMatchObject({ partition: 1, pending: [], pendingFacts: 0, state });
    expect(b?.pending.map((p) => p.request.id)).toEqual(['new-1']);
    expect(b?.invalid).toEqual([
      expect.objectContaining({
        id: 'bad-1',
        why: 'since and until must be Unix seconds with since <= until',
      }),
    ]);
    expect(b?.pendingFacts).toBe(1);
  });

  it("says how many known objects a completed backfill deleted, and reads a running one's listed pages as its working data", () => {
    offset = 0;
    const done: GrantBackfillState = {
      kind: 'grant',
      grantId: 'grant-d',
      queued: [],
      last: {
        id: 'r-9',
        reason: 'manual',
        outcome: 'completed',
        objects: 120,
        calls: 8,
        deleted: 3,
        finishedAt: NOW - 60_000,
      },
    };
    const folded = foldBackfillRecords('bf', [
      rec(3, grantKey('grant-d'), done),
      rec(3, listedKey('grant-d', 'r-10', 'contacts', 0), {
        kind: 'listed',
        family: 'contacts',
        ids: ['c1'],
      }),
    ]);
    expect(folded.unreadable).toBe(0);
    expect(folded.grants.map((g) => g.grantId)).toEqual(['grant-d']);
    expect(formatBackfillStatus(folded, [], NOW).join('\n')).toContain(
      'last       r-9 manual completed: 120 object(s), 3 deleted by reconciliation, 8 call(s); finished',
    );
  });

  it('prints the running backfill with its progress, the queue, the last outcome, and what waits', () => {
    const text = formatBackfillStatus(foldBackfillRecords('bf', records()), [], NOW).join('\n');
    expect(text).toContain(
      'backfill status of bf: 1 grant(s) with a backfill state, 1 request(s) not yet applied',
    );
    expect(text).toContain(
      'running    run-1 manual 2026-03-01T09:00:00Z … 2026-03-04T12:00:00Z messages,events: 1200 object(s), 7 page(s), 9 call(s); ' +
        'listing 3/3 events (calendar 2 of 2), next page; started 2026-03-04T11:55:00Z (5m ago)',
    );
    expect(text).toContain(
      "blocked    since 2026-03-04T11:59:30Z (30s ago): 401: grant expired; it resumes at the grant's re-authentication",
    );
    expect(text).toContain('queued     queued-1 manual');
    expect(text).toContain(
      'last       old-1 reauthentication failed (401: the grant expired again): 30 object(s), 4 call(s); finished 2026-03-04T10:00:00Z (2h ago)',
    );
    expect(text).toContain('lifecycle  expired since 2026-02-25T06:13:20Z, last sync 2026-02-25T03:26:40Z');
    expect(text).toContain('waiting    new-1 manual');
    expect(text).toContain('(written 1m ago, not yet applied; partition 0 offset 3)');
    expect(text).toContain('invalid    request bad-1');
    expect(text).toContain('facts      1 lifecycle fact(s) not yet applied');
    expect(text).toContain('1 record(s) are not backfill records');
    expect(text).toContain('nylas_stream_backfill_*');
  });

  it('shows asked-for grants even when the topic knows nothing of them; JSON has the same', () => {
    const status = foldBackfillRecords('bf', records());
    const text = formatBackfillStatus(status, ['grant-z'], NOW).join('\n');
    expect(text).toContain('grant-z\n  nothing: no backfill state, no request waiting');
    const json = backfillStatusJson(status, ['grant-b']);
    expect(json.grants).toEqual([
      expect.objectContaining({ grantId: 'grant-b', state: null, pendingFacts: 1, partition: 0 }),
    ]);
    expect(ago(NOW - 3 * 86_400_000, NOW)).toBe('3d ago');
  });
});

describe('backfill command line', () => {
  // Refused before any connection is made: no broker is needed here.
  it.each([
    [['backfill', '--grant', 'g-1'], /--since is required/],
    [['backfill', '--since', '72h'], /--grant <id> \(repeatable\) or --all-grants/],
    [['backfill', '--grant', 'g-1', '--all-grants', '--since', '72h'], /either --grant or --all-grants/],
    [['backfill', '--grant', 'g-1', '--since', '72h', '--objects', 'threads'], /unknown family "threads"/],
    [['backfill', '--grant', 'g-1', '--since', '2026-03-02', '--until', '2026-03-01'], /lies before --since/],
    [['backfill', '--status', '--since', '72h'], /--status only reads .* drop --since/],
  ])('%j is refused with exit code 1', async (args, message) => {
    const r = await runCli(args as string[]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it('--all-grants without NYLAS_API_KEY is a configuration error (exit code 2)', async () => {
    const r = await runCli(['backfill', '--all-grants', '--since', '72h'], { NYLAS_API_KEY: undefined });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/NYLAS_API_KEY: required: backfill --all-grants lists the grants/);
  });
});
