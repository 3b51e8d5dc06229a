/**
 * How a backfill walks the Nylas list endpoints (docs/nylas-contract.md §7), page by page, and what each
 * listed object becomes: a notification on the raw topic, built as Nylas would have sent it, so it takes
 * the same path as a live one (dedupe, order, expand, normalize, Avro) and per-object versions stay
 * monotone (object-identity.ts versionOf, origin `backfill`).
 *
 * Listings of a request, in this order:
 *   messages   GET /v3/grants/{g}/messages?received_after=since&received_before=until   (receipt time)
 *   calendars  GET /v3/grants/{g}/calendars                     (whole; also gives the events' calendars)
 *   events     GET /v3/grants/{g}/events?calendar_id=c&updated_after=since&updated_before=until&show_cancelled=true  (per calendar)
 *   contacts   GET /v3/grants/{g}/contacts                      (whole: no time filter exists)
 *   folders    GET /v3/grants/{g}/folders                       (whole)
 * all with `limit` (≤ 200) and `page_token` ← `next_cursor`. The position (listing, calendar, cursor) is
 * what the coordinator commits after each page, so a crash resumes at the page after the last committed.
 *
 * Notification ids derive from (request, family, object id): a page fetched twice (a crash between the
 * fetch and its commit) yields the same ids, which the processor's dedupe drops.
 */
import type { Message } from 'kafkajs';
import { isObj, type Obj } from '../../lib/json';
import { RAW_HEADERS } from '../../lib/raw-record';
import {
  type BackfillFamily,
  type BackfillPosition,
  type BackfillRequest,
  OBJECT_TYPE,
  type RunningBackfill,
} from './records';

export type ListingName = 'messages' | 'calendars' | 'events' | 'contacts' | 'folders';

/** The listings a request walks. Calendars are listed when events are wanted too: events are per calendar. */
export function listingsOf(families: readonly BackfillFamily[]): ListingName[] {
  const want = new Set(families);
  const out: ListingName[] = [];
  if (want.has('messages')) out.push('messages');
  if (want.has('calendars') || want.has('events')) out.push('calendars');
  if (want.has('events')) out.push('events');
  if (want.has('contacts')) out.push('contacts');
  if (want.has('folders')) out.push('folders');
  return out;
}

export interface PageCall {
  listing: ListingName;
  path: string;
  query: Record<string, string>;
  /** The family whose objects this page's items are, or undefined when they only serve the walk
   * (calendars listed for their events when calendars themselves were not asked for). */
  emits: BackfillFamily | undefined;
}

/** The next list call of a running backfill, or 'done'. */
export function nextCall(running: RunningBackfill, pageSize: number): PageCall | 'done' {
  const { request } = running;
  const listings = listingsOf(request.families);
  let position = running.position;
  for (;;) {
    const listing = listings[position.listing];
    if (listing === undefined) return 'done';
    if (listing === 'events' && (position.calendar ?? 0) >= (position.calendarIds ?? []).length) {
      position = { ...position, listing: position.listing + 1, cursor: null };
      delete position.calendar;
      continue;
    }
    return callFor(request, listing, position, pageSize);
  }
}

function callFor(
  request: BackfillRequest,
  listing: ListingName,
  position: BackfillPosition,
  pageSize: number,
): PageCall {
  const g = encodeURIComponent(request.grantId);
  const query: Record<string, string> = { limit: String(pageSize) };
  if (position.cursor !== null) query.page_token = position.cursor;
  switch (listing) {
    case 'messages':
      query.received_after = String(request.since);
      query.received_before = String(request.until);
      break;
    case 'events':
      query.calendar_id = String((position.calendarIds ?? [])[position.calendar ?? 0]);
      query.updated_after = String(request.since);
      query.updated_before = String(request.until);
      // A cancelled event is a state too (the provider keeps it); hard-deleted ones cannot be listed.
      query.show_cancelled = 'true';
      break;
    default:
      break;
  }
  const emits =
    listing === 'calendars' && !request.families.includes('calendars')
      ? undefined
      : (listing as BackfillFamily);
  return { listing, path: `/v3/grants/${g}/${listing}`, query, emits };
}

/** Where the walk goes after a page: its next page, the next calendar's events, or the next listing. */
export function advance(
  running: RunningBackfill,
  call: PageCall,
  items: readonly Obj[],
  nextCursor: string | null,
): BackfillPosition {
  // nextCall may have skipped past an events listing with no calendars; the call says where we are.
  const listings = listingsOf(running.request.families);
  let position: BackfillPosition = { ...running.position, listing: listings.indexOf(call.listing) };
  if (call.listing === 'calendars') {
    const ids = items.map((c) => c.id).filter((id): id is string => typeof id === 'string' && id !== '');
    position = { ...position, calendarIds: [...(position.calendarIds ?? []), ...ids] };
  }
  if (nextCursor !== null && nextCursor !== '') return { ...position, cursor: nextCursor };
  if (call.listing === 'events' && (position.calendar ?? 0) + 1 < (position.calendarIds ?? []).length) {
    return { ...position, calendar: (position.calendar ?? 0) + 1, cursor: null };
  }
  const next: BackfillPosition = { ...position, listing: position.listing + 1, cursor: null };
  delete next.calendar;
  if (call.listing === 'calendars' && listings[next.listing] === 'events') next.calendar = 0;
  return next;
}

/** Nylas truncates a notification over 1 MB by dropping the message body (§4.1); a backfilled message
 * that large is sent the same way, so the expand stage fetches it whole (and the raw record stays small). */
export const TRUNCATE_OVER_BYTES = 1_000_000;

export interface BuildContext {
  request: BackfillRequest;
  applicationId: string;
  /** When Nylas answered the list call (its `Date`), Unix seconds: the notifications' `time`. */
  nylasTime: number;
  /** Wall clock, epoch ms: the `received-at` header. */
  now: number;
}

/** The raw-topic record of one listed object. */
export function notificationOf(family: BackfillFamily, item: Obj, ctx: BuildContext): Message | undefined {
  const id = typeof item.id === 'string' && item.id !== '' ? item.id : undefined;
  if (id === undefined) return undefined;
  // The raw key (the grant) is derived from data.object.grant_id, as for a live notification.
  const object: Obj = { ...item, grant_id: ctx.request.grantId };
  const type = `${OBJECT_TYPE[family]}.updated`;
  const record = rawRecord(`backfill:${ctx.request.id}:${family}:${id}`, type, object, ctx);
  if (
    family !== 'messages' ||
    Buffer.byteLength(String(record.value)) <= TRUNCATE_OVER_BYTES ||
    !('body' in object)
  )
    return record;
  delete object.body;
  return rawRecord(`backfill:${ctx.request.id}:${family}:${id}`, `${type}.truncated`, object, ctx);
}

/** A notification as Nylas would send it, marked as the backfill's (headers origin and backfill id). */
function rawRecord(id: string, type: string, object: Obj, ctx: BuildContext): Message {
  const grantId = ctx.request.grantId;
  const envelope = {
    specversion: '1.0',
    type,
    source: '/nylas-stream/backfill',
    id,
    time: ctx.nylasTime,
    webhook_delivery_attempt: 1,
    data: { application_id: ctx.applicationId, grant_id: grantId, object },
  };
  return {
    key: grantId,
    value: JSON.stringify(envelope),
    headers: {
      [RAW_HEADERS.contentType]: 'application/json',
      [RAW_HEADERS.notificationId]: id,
      [RAW_HEADERS.type]: type,
      [RAW_HEADERS.receivedAt]: String(ctx.now),
      [RAW_HEADERS.origin]: 'backfill',
      [RAW_HEADERS.backfillId]: ctx.request.id,
    },
    timestamp: String(ctx.now),
  };
}

/** The raw-topic record of a known object a whole listing no longer returned (reconcile.ts): a delete as
 * Nylas sends one for these families (`{grant_id, id, object}`, docs/nylas-contract.md §3.2), at the
 * listing's time. */
export function deletionOf(family: BackfillFamily, objectId: string, ctx: BuildContext): Message {
  return rawRecord(
    `backfill:${ctx.request.id}:${family}:${objectId}:deleted`,
    `${OBJECT_TYPE[family]}.deleted`,
    { id: objectId, grant_id: ctx.request.grantId, object: OBJECT_TYPE[family] },
    ctx,
  );
}

/** A list response's items that are objects (anything else in `data` is skipped, not trusted). */
export function objectsOf(data: unknown): Obj[] {
  return Array.isArray(data) ? data.filter(isObj) : [];
}
