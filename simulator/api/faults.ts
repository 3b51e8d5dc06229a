/**
 * Faults the REST and management API can inject, changeable while the server runs: scripted error
 * statuses (429 with Retry-After, 5xx, 401, 404…), latency, and the "404 right after create" that a
 * re-fetching receiver must treat as gone (§4.2, "404 on re-fetch"). A fault can target a method, a
 * path, list or by-id calls, and one grant.
 */

export interface FaultMatch {
  /** HTTP method, case-insensitive. */
  method?: string;
  /** A substring of the request path (query string excluded). */
  pathIncludes?: string;
  /**
   * The kind of call on a grant's objects: true = list calls only (`/v3/grants/{grant}/{kind}`), false =
   * by-id calls only (`/v3/grants/{grant}/{kind}/{id}`). A path substring cannot tell them apart
   * (`/v3/grants/g1/messages` is in both). When set, other paths (the Grant itself, `GET /v3/grants`,
   * the webhooks API) never match; target those with `pathIncludes`.
   */
  list?: boolean;
  /** Only calls under `/v3/grants/{grant}` (the Grant and its objects), however the path names the grant
   * (id, email or `email:<addr>`, §4.2) when the server can resolve it. */
  grantId?: string;
}

export interface FaultSpec {
  match?: FaultMatch;
  status: number;
  /** Sent as `Retry-After` (seconds) on every response this fault answers. */
  retryAfterSeconds?: number;
  /** How many matching requests this fault answers (default 1). */
  times?: number;
}

interface QueuedFault {
  spec: FaultSpec;
  remaining: number;
}

/** A call under `/v3/grants/{grant}`, read from its path. */
export interface GrantCall {
  /** The `{grant_id}` segment as written in the path (decoded): an id, an email or `email:<addr>`. */
  grant: string;
  /** The collection, e.g. `messages` (not checked against the known kinds); absent for the Grant itself. */
  kind?: string;
  /** The object id of a by-id call (decoded; may hold `/`, as in `messages/schedules/{id}`). */
  id?: string;
  /** A list call: a collection without an object id. */
  list: boolean;
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** `/v3/grants/{grant}[/{kind}[/{id}]]` → the call; any other path (`/v3/grants`, `/v3/webhooks`…) →
 * undefined. */
export function grantCallOf(path: string): GrantCall | undefined {
  const m = /^\/v3\/grants\/([^/]+)(?:\/([^/]+)(?:\/(.+?))?)?\/?$/.exec(path);
  if (!m) return undefined;
  const kind = m[2];
  const id = m[3];
  const call: GrantCall = {
    grant: decodeSegment(m[1] as string),
    list: kind !== undefined && id === undefined,
  };
  if (kind !== undefined) call.kind = decodeSegment(kind);
  if (id !== undefined) call.id = decodeSegment(id);
  return call;
}

export class ApiFaults {
  /** Added before every response, in wall-clock milliseconds. */
  latencyMs = 0;
  /** GET-by-id answers 404 for objects created less than this many wall-clock ms ago. */
  notFoundAfterCreateMs = 0;
  private queue: QueuedFault[] = [];

  enqueue(spec: FaultSpec): void {
    const times = spec.times ?? 1;
    if (!Number.isInteger(times) || times < 1)
      throw new RangeError(`times must be a positive integer, got ${times}`);
    if (!Number.isInteger(spec.status) || spec.status < 100 || spec.status > 599)
      throw new RangeError(`status must be an HTTP status code, got ${spec.status}`);
    const retryAfter = spec.retryAfterSeconds;
    if (retryAfter !== undefined && !(Number.isInteger(retryAfter) && retryAfter >= 0))
      throw new RangeError(`retryAfterSeconds must be a non-negative integer, got ${retryAfter}`);
    this.queue.push({ spec, remaining: times });
  }

  clear(): void {
    this.queue = [];
    this.latencyMs = 0;
    this.notFoundAfterCreateMs = 0;
  }

  /** Faults still queued (with their remaining counts). */
  pending(): ReadonlyArray<Readonly<FaultSpec> & { remaining: number }> {
    return this.queue.map((q) => ({ ...q.spec, remaining: q.remaining }));
  }

  /**
   * Consumes and returns the first queued fault matching this request, if any (first in, first out).
   * `resolveGrantId` turns the path's `{grant_id}` (an id, an email or `email:<addr>`) into the grant id
   * for `match.grantId`; without it the segment is compared as written.
   */
  take(method: string, path: string, resolveGrantId?: (identifier: string) => string): FaultSpec | undefined {
    let call: GrantCall | undefined | null = null; // null: not parsed yet (most faults never need it)
    const parsed = (): GrantCall | undefined => {
      if (call === null) call = grantCallOf(path);
      return call;
    };
    const matches = (m: FaultMatch | undefined): boolean => {
      if (m === undefined) return true;
      if (m.method !== undefined && m.method.toUpperCase() !== method.toUpperCase()) return false;
      if (m.pathIncludes !== undefined && !path.includes(m.pathIncludes)) return false;
      if (m.list === undefined && m.grantId === undefined) return true;
      const c = parsed();
      if (c === undefined) return false;
      if (m.list !== undefined && (c.kind === undefined || c.list !== m.list)) return false;
      return m.grantId === undefined || (resolveGrantId ? resolveGrantId(c.grant) : c.grant) === m.grantId;
    };
    const i = this.queue.findIndex((q) => matches(q.spec.match));
    if (i === -1) return undefined;
    const q = this.queue[i] as QueuedFault;
    q.remaining -= 1;
    if (q.remaining <= 0) this.queue.splice(i, 1);
    return q.spec;
  }
}
