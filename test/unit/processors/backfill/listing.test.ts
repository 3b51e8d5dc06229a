import {
  advance,
  listingsOf,
  nextCall,
  notificationOf,
  TRUNCATE_OVER_BYTES,
} from '../../../../processors/backfill/listing';
import type { BackfillRequest, RunningBackfill } from '../../../../processors/backfill/records';
import { decode } from '../../../../processors/stages/decode';

const request: BackfillRequest = {
  kind: 'request',
  id: 'r1',
  grantId: 'g/1',
  reason: 'reauthentication',
  since: 100,
  until: 200,
  families: ['messages', 'events', 'contacts', 'calendars', 'folders'],
  requestedAt: 0,
};

function running(position: RunningBackfill['position'], r = request): RunningBackfill {
  return { request: r, position, objects: 0, pages: 0, calls: 0, startedAt: 0 };
}

/** Walks a request against scripted pages: listing path → pages of [ids, next cursor]. */
function walk(r: BackfillRequest, pages: Record<string, Array<[string[], string | null]>>): string[] {
  const calls: string[] = [];
  let current = running({ listing: 0, cursor: null }, r);
  for (let i = 0; i < 50; i++) {
    const call = nextCall(current, 200);
    if (call === 'done') return calls;
    const name = call.listing === 'events' ? `events@${call.query.calendar_id}` : call.listing;
    calls.push(`${name}${call.query.page_token ? `#${call.query.page_token}` : ''}`);
    const script = pages[name] ?? [[[], null]];
    const n = call.query.page_token ? Number(call.query.page_token) : 0;
    const [ids, next] = script[n] ?? [[], null];
    current = {
      ...current,
      position: advance(
        current,
        call,
        ids.map((id) => ({ id })),
        next,
      ),
    };
  }
  throw new Error('walk did not end');
}

describe('backfill listings', () => {
  it('lists calendars before events, and calendars even when only events are wanted', () => {
    expect(listingsOf(['events'])).toEqual(['calendars', 'events']);
    expect(listingsOf(['folders', 'messages'])).toEqual(['messages', 'folders']);
    const call = nextCall(running({ listing: 0, cursor: null }, { ...request, families: ['events'] }), 200);
    expect(call).toMatchObject({ listing: 'calendars', emits: undefined });
  });

  it('builds the documented list calls (§7): time filters, limit, page token, encoded grant', () => {
    expect(nextCall(running({ listing: 0, cursor: 'c2' }), 200)).toEqual({
      listing: 'messages',
      path: '/v3/grants/g%2F1/messages',
      query: { limit: '200', page_token: 'c2', received_after: '100', received_before: '200' },
      emits: 'messages',
    });
    expect(nextCall(running({ listing: 2, cursor: null, calendarIds: ['a', 'b'], calendar: 1 }), 50)).toEqual(
      {
        listing: 'events',
        path: '/v3/grants/g%2F1/events',
        query: {
          limit: '50',
          calendar_id: 'b',
          updated_after: '100',
          updated_before: '200',
          show_cancelled: 'true',
        },
        emits: 'events',
      },
    );
    expect(nextCall(running({ listing: 3, cursor: null }), 200)).toMatchObject({
      path: '/v3/grants/g%2F1/contacts',
      query: { limit: '200' },
    });
  });

  it('walks every page of every listing, the events of each calendar in turn, then ends', () => {
    const calls = walk(request, {
      messages: [
        [['m1'], '1'],
        [['m2'], null],
      ],
      calendars: [
        [['c1'], '1'],
        [['c2'], null],
      ],
      'events@c1': [
        [['e1'], '1'],
        [['e2'], null],
      ],
      'events@c2': [[[], null]],
    });
    expect(calls).toEqual([
      'messages',
      'messages#1',
      'calendars',
      'calendars#1',
      'events@c1',
      'events@c1#1',
      'events@c2',
      'contacts',
      'folders',
    ]);
  });

  it('skips the events listing of a grant without calendars', () => {
    expect(walk(request, { calendars: [[[], null]] })).toEqual([
      'messages',
      'calendars',
      'contacts',
      'folders',
    ]);
  });

  it('a position read back after a crash resumes at the page after the last committed one', () => {
    const resumed = running({ listing: 2, cursor: 'p3', calendarIds: ['c1', 'c2'], calendar: 1 });
    expect(nextCall(resumed, 200)).toMatchObject({ query: { calendar_id: 'c2', page_token: 'p3' } });
  });
});

describe('backfilled notifications', () => {
  const ctx = { request, applicationId: 'app', nylasTime: 1_800_000_000, now: 1_800_000_001_000 };

  it('decode takes one as a notification of origin backfill, keyed by the grant, with a deterministic id', () => {
    const m = notificationOf('contacts', { id: 'ct1', given_name: 'A' }, ctx);
    const record = {
      topic: 'raw',
      partition: 0,
      offset: '7',
      key: Buffer.from(String(m?.key)),
      value: Buffer.from(String(m?.value)),
      headers: m?.headers as Record<string, string>,
      timestamp: String(m?.timestamp),
    };
    const d = decode(record);
    if (!d.ok) throw new Error(d.deadLetter.message);
    expect(d.notification).toMatchObject({
      origin: 'backfill',
      baseType: 'contact.updated',
      grantId: 'g/1',
      object: { grantId: 'g/1', objectType: 'contact', objectId: 'ct1' },
      // One millisecond below the second Nylas answered: a live notification of that second wins.
      version: 1_800_000_000n * 1000n - 1n,
    });
    expect(d.notification.envelope.id).toBe('backfill:r1:contacts:ct1');
    expect(notificationOf('contacts', { id: 'ct1', given_name: 'B' }, ctx)?.headers).toEqual(m?.headers);
  });

  it('an event keeps its own clock (updated_at) as its version', () => {
    const m = notificationOf('events', { id: 'e1', calendar_id: 'c1', updated_at: 1_700_000_000 }, ctx);
    const d = decode({
      topic: 'raw',
      partition: 0,
      offset: '1',
      key: null,
      value: Buffer.from(String(m?.value)),
      headers: m?.headers as Record<string, string>,
      timestamp: '0',
    });
    expect(d.ok && d.notification.version).toBe(1_700_000_000n * 1000n);
  });

  it('a message over 1 MB goes without its body, as .truncated, for the expand stage to fetch', () => {
    const m = notificationOf('messages', { id: 'm1', body: 'x'.repeat(TRUNCATE_OVER_BYTES) }, ctx);
    const env = JSON.parse(String(m?.value));
    expect(env.type).toBe('message.updated.truncated');
    expect(env.data.object.body).toBeUndefined();
    expect(notificationOf('messages', { id: 'm2', body: 'short' }, ctx)?.headers).toMatchObject({
      'nylas-type': 'message.updated',
    });
  });

  it('an item without an id is skipped', () => {
    expect(notificationOf('folders', { name: 'x' }, ctx)).toBeUndefined();
  });
});
