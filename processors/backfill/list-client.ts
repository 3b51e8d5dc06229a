/**
 * One Nylas list call (docs/nylas-contract.md §4.2, §7): GET with the API key, the page's objects as
 * Nylas sends them (snake_case), `next_cursor`, and when Nylas answered.
 *
 * Plain fetch rather than the official SDK the expand stage uses: a backfill needs the response's `Date`
 * (Nylas's clock: it becomes the notifications' `time`, which orders a backfilled state against live
 * ones, object-identity.ts versionOf) and the raw `next_cursor`, and the SDK exposes neither; it would
 * also camel-case every key only for us to turn them back.
 */
import type { Obj } from '../../lib/json';
import { ApiCallError, parseRetryAfter } from '../stages/expand';
import { objectsOf } from './listing';

export interface ListPage {
  items: Obj[];
  nextCursor: string | null;
  /** Nylas's clock when it answered (the `Date` header), Unix seconds; our clock when it has none. */
  nylasTime: number;
}

/** Fetches one page; throws ApiCallError (status undefined: timeout or connection error). */
export type PageFetcher = (
  path: string,
  query: Readonly<Record<string, string>>,
  timeoutMs: number,
  signal?: AbortSignal,
) => Promise<ListPage>;

export function httpPageFetcher(options: {
  apiKey: string;
  apiUri: string;
  now?: () => number;
}): PageFetcher {
  const now = options.now ?? Date.now;
  const base = options.apiUri.replace(/\/+$/, '');
  return async (path, query, timeoutMs, signal) => {
    const url = `${base}${path}?${new URLSearchParams(query).toString()}`;
    // One controller per call, tied to the caller's signal by a listener removed afterwards: a
    // backfill's signal lives for all its calls, and AbortSignal.any left a listener on it per call.
    const call = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      call.abort();
    }, timeoutMs);
    const onAbort = () => call.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await listCall(url, options.apiKey, call.signal, now);
    } catch (err) {
      if (err instanceof ApiCallError) throw err;
      const why = timedOut ? `no answer within ${timeoutMs} ms` : (err as Error).message;
      throw new ApiCallError(`Nylas list call failed: ${why}`, undefined, undefined);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  };
}

/** The request and its body, both under the call's signal (a body that stops arriving is a timeout too). */
async function listCall(
  url: string,
  apiKey: string,
  signal: AbortSignal,
  now: () => number,
): Promise<ListPage> {
  const res = await fetch(url, {
    headers: { Authorization: `Bearer ${apiKey}`, Accept: 'application/json' },
    signal,
  });
  let body: unknown;
  try {
    body = await res.json();
  } catch (err) {
    if (signal.aborted) throw err;
    // An error page from a proxy, or a body cut off: transient unless the status says otherwise.
    throw new ApiCallError(
      `Nylas list call answered ${res.status} without a JSON body: ${(err as Error).message}`,
      res.ok ? undefined : res.status,
      parseRetryAfter(res.headers.get('retry-after') ?? undefined, now()),
    );
  }
  if (!res.ok) {
    const error = (body as { error?: { type?: unknown; message?: unknown } } | null)?.error;
    throw new ApiCallError(
      `Nylas API ${res.status}: ${String(error?.type ?? '')} ${String(error?.message ?? '')}`.trim(),
      res.status,
      parseRetryAfter(res.headers.get('retry-after') ?? undefined, now()),
    );
  }
  const b = body as { data?: unknown; next_cursor?: unknown } | null;
  const date = Date.parse(res.headers.get('date') ?? '');
  return {
    items: objectsOf(b?.data),
    nextCursor: typeof b?.next_cursor === 'string' && b.next_cursor !== '' ? b.next_cursor : null,
    nylasTime: Math.floor((Number.isFinite(date) ? date : now()) / 1000),
  };
}
