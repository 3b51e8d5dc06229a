/**
 * Faults the REST and management API can inject, changeable while the server runs: scripted error
 * statuses (429 with Retry-After, 5xx, 401, 404…), latency, and the "404 right after create" that a
 * re-fetching receiver must treat as gone (§4.2, "404 on re-fetch").
 */

export interface FaultMatch {
  /** HTTP method, case-insensitive. */
  method?: string;
  /** A substring of the request path (query string excluded). */
  pathIncludes?: string;
}

export interface FaultSpec {
  match?: FaultMatch;
  status: number;
  /** Sent as `Retry-After` (seconds). */
  retryAfterSeconds?: number;
  /** How many matching requests this fault answers (default 1). */
  times?: number;
}

interface QueuedFault {
  spec: FaultSpec;
  remaining: number;
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

  /** Consumes and returns the first queued fault matching this request, if any (first in, first out). */
  take(method: string, path: string): FaultSpec | undefined {
    const i = this.queue.findIndex(
      (q) =>
        (q.spec.match?.method === undefined || q.spec.match.method.toUpperCase() === method.toUpperCase()) &&
        (q.spec.match?.pathIncludes === undefined || path.includes(q.spec.match.pathIncludes)),
    );
    if (i === -1) return undefined;
    const q = this.queue[i] as QueuedFault;
    q.remaining -= 1;
    if (q.remaining <= 0) this.queue.splice(i, 1);
    return q.spec;
  }
}
