/**
 * The REST endpoints a receiver calls (§4.2 GET-by-id, §7 list filters): grants and their messages,
 * events (with required `calendar_id`), calendars, contacts, folders and threads. An invalid grant
 * answers 401 for everything under it (§7: "API calls for the grant then return 401").
 */
import { type Request, type Response, Router } from 'express';
import type { GrantRecord, NylasObject, ObjectKind } from '../world/types';
import type { World } from '../world/world';
import { httpError, sendData } from './envelopes';
import type { ApiFaults } from './faults';
import { paginate } from './paging';

const KINDS: Readonly<Record<string, ObjectKind>> = {
  messages: 'messages',
  events: 'events',
  calendars: 'calendars',
  contacts: 'contacts',
  folders: 'folders',
  threads: 'threads',
};

function q(req: Request, name: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[name];
  if (Array.isArray(v)) return v.length ? String(v[0]) : undefined;
  return v === undefined || v === '' ? undefined : String(v);
}

function intParam(req: Request, name: string): number | undefined {
  const v = q(req, name);
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) throw httpError(400, `${name} must be Unix seconds, got "${v}"`);
  return Number(v);
}

function boolParam(req: Request, name: string): boolean | undefined {
  const v = q(req, name);
  if (v === undefined) return undefined;
  if (v !== 'true' && v !== 'false') throw httpError(400, `${name} must be true or false`);
  return v === 'true';
}

/** `select=a,b,c`: top-level field selection (§4.2). */
function applySelect(req: Request, obj: NylasObject): NylasObject {
  const select = q(req, 'select');
  if (select === undefined) return obj;
  const out: NylasObject = {};
  for (const f of select.split(',').map((s) => s.trim())) if (f in obj) out[f] = obj[f];
  return out;
}

/** `fields=include_headers` adds `headers[]`; `include_basic_headers` adds the three threading ones. */
function withHeaders(req: Request, msg: NylasObject): NylasObject {
  const fields = q(req, 'fields');
  if (fields !== 'include_headers' && fields !== 'include_basic_headers') return msg;
  const from = (msg.from as Array<{ email?: string }> | undefined)?.[0]?.email ?? '';
  const to = (msg.to as Array<{ email?: string }> | undefined)?.map((p) => p.email).join(', ') ?? '';
  const basic = [
    { name: 'Message-ID', value: `<${String(msg.id)}@mail.example.com>` },
    { name: 'In-Reply-To', value: '' },
    { name: 'References', value: '' },
  ];
  const all = [
    ...basic,
    { name: 'From', value: from },
    { name: 'To', value: to },
    { name: 'Subject', value: String(msg.subject ?? '') },
    { name: 'Date', value: new Date(Number(msg.date) * 1000).toUTCString() },
  ];
  return { ...msg, headers: fields === 'include_headers' ? all : basic };
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number.NaN;
}

/** §7: messages filter on receipt time (`date`) and are listed newest first. */
function filterMessages(req: Request, items: NylasObject[]): NylasObject[] {
  const after = intParam(req, 'received_after');
  const before = intParam(req, 'received_before');
  const folder = q(req, 'in');
  const thread = q(req, 'thread_id');
  const unread = boolParam(req, 'unread');
  const starred = boolParam(req, 'starred');
  return items
    .filter((m) => after === undefined || num(m.date) >= after)
    .filter((m) => before === undefined || num(m.date) <= before)
    .filter((m) => folder === undefined || ((m.folders as string[] | undefined) ?? []).includes(folder))
    .filter((m) => thread === undefined || m.thread_id === thread)
    .filter((m) => unread === undefined || m.unread === unread)
    .filter((m) => starred === undefined || m.starred === starred)
    .sort((a, b) => num(b.date) - num(a.date) || String(a.id).localeCompare(String(b.id)));
}

/** §7: events need `calendar_id`; `updated_after/before`, `start`/`end` overlap, `show_cancelled`. */
function filterEvents(req: Request, items: NylasObject[]): NylasObject[] {
  const calendarId = q(req, 'calendar_id');
  if (calendarId === undefined) throw httpError(400, 'calendar_id is required');
  const updatedAfter = intParam(req, 'updated_after');
  const updatedBefore = intParam(req, 'updated_before');
  const start = intParam(req, 'start');
  const end = intParam(req, 'end');
  const showCancelled = boolParam(req, 'show_cancelled') ?? false;
  const startOf = (e: NylasObject): number => {
    const w = (e.when ?? {}) as Record<string, unknown>;
    return num(w.start_time ?? w.time);
  };
  const endOf = (e: NylasObject): number => {
    const w = (e.when ?? {}) as Record<string, unknown>;
    return num(w.end_time ?? w.start_time ?? w.time);
  };
  return items
    .filter((e) => e.calendar_id === calendarId)
    .filter((e) => showCancelled || e.status !== 'cancelled')
    .filter((e) => updatedAfter === undefined || num(e.updated_at) >= updatedAfter)
    .filter((e) => updatedBefore === undefined || num(e.updated_at) <= updatedBefore)
    .filter((e) => end === undefined || !(startOf(e) >= end))
    .filter((e) => start === undefined || !(endOf(e) <= start))
    .sort((a, b) => startOf(a) - startOf(b) || String(a.id).localeCompare(String(b.id)));
}

/** §7: threads filter on `latest_message_after/before` and list most recent first. */
function filterThreads(req: Request, items: NylasObject[]): NylasObject[] {
  const after = intParam(req, 'latest_message_after');
  const before = intParam(req, 'latest_message_before');
  const latest = (t: NylasObject): number =>
    Math.max(num(t.latest_message_received_date) || 0, num(t.latest_message_sent_date) || 0);
  return items
    .filter((t) => after === undefined || latest(t) >= after)
    .filter((t) => before === undefined || latest(t) <= before)
    .sort((a, b) => latest(b) - latest(a) || String(a.id).localeCompare(String(b.id)));
}

function grantJson(g: GrantRecord): NylasObject {
  return { ...g, object: 'grant' };
}

export function grantsRouter(world: World, faults: ApiFaults): Router {
  const router = Router();

  const grantOr404 = (identifier: string): GrantRecord => {
    const g = world.getGrant(identifier);
    if (!g) throw httpError(404, `grant ${identifier} not found`);
    return g;
  };
  const validGrant = (identifier: string): GrantRecord => {
    const g = grantOr404(identifier);
    // §7: API calls for an invalid (expired) grant answer 401.
    if (g.grant_status !== 'valid')
      throw httpError(401, `grant ${g.id} is invalid; the user must re-authenticate`);
    return g;
  };

  // §7: GET /v3/grants with since/before (created_at) and grant_status.
  router.get('/v3/grants', (req: Request, res: Response) => {
    const since = intParam(req, 'since');
    const before = intParam(req, 'before');
    const status = q(req, 'grant_status');
    const grants = world
      .listGrants()
      .filter((g) => since === undefined || g.created_at >= since)
      .filter((g) => before === undefined || g.created_at <= before)
      .filter((g) => status === undefined || g.grant_status === status)
      .map(grantJson);
    const page = paginate(grants, req.query as Record<string, unknown>);
    sendData(req, res, page.items, { next_cursor: page.nextCursor });
  });

  // The Grant itself answers even when invalid: that is how a client reads `grant_status` (§4.2).
  router.get('/v3/grants/:grantId', (req: Request, res: Response) => {
    sendData(req, res, grantJson(grantOr404(String(req.params.grantId))));
  });

  router.get('/v3/grants/:grantId/:kind', (req: Request, res: Response) => {
    const kind = KINDS[String(req.params.kind)];
    if (!kind) throw httpError(404, `no such collection ${String(req.params.kind)}`);
    const grant = validGrant(String(req.params.grantId));
    let items = world.listObjects(grant.id, kind, { withBodies: kind === 'messages' });
    if (kind === 'messages') items = filterMessages(req, items).map((m) => withHeaders(req, m));
    else if (kind === 'events') items = filterEvents(req, items);
    else if (kind === 'threads') items = filterThreads(req, items);
    const page = paginate(items, req.query as Record<string, unknown>);
    sendData(
      req,
      res,
      page.items.map((o) => applySelect(req, o)),
      { next_cursor: page.nextCursor },
    );
  });

  router.get('/v3/grants/:grantId/:kind/:id', (req: Request, res: Response) => {
    const kind = KINDS[String(req.params.kind)];
    if (!kind) throw httpError(404, `no such collection ${String(req.params.kind)}`);
    const grant = validGrant(String(req.params.grantId));
    const id = String(req.params.id);
    let calendarId: string | undefined;
    if (kind === 'events') {
      // §4.2: calendar_id is required to fetch an event.
      calendarId = q(req, 'calendar_id');
      if (calendarId === undefined) throw httpError(400, 'calendar_id is required');
    }
    const rec = world.getRecord(grant.id, kind, id);
    if (rec?.data === undefined) throw httpError(404);
    if (calendarId !== undefined && rec.data.calendar_id !== calendarId) throw httpError(404);
    // §4.2 "404 on re-fetch": a GET right after *.created can 404; the receiver should treat it as gone.
    if (faults.notFoundAfterCreateMs > 0 && Date.now() - rec.createdAtMs < faults.notFoundAfterCreateMs)
      throw httpError(404);
    let obj = world.getObject(grant.id, kind, id) as NylasObject;
    if (kind === 'messages') obj = withHeaders(req, obj);
    sendData(req, res, applySelect(req, obj));
  });

  return router;
}
