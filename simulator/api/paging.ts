/**
 * List paging (§4.2, §7): `limit` (default 50, max 200) and `page_token` ← `next_cursor`. The cursor is
 * opaque to clients; here it is the base64url of the next offset.
 */
import { httpError } from './envelopes';

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 200;

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export function parseLimit(raw: unknown): number {
  if (raw === undefined || raw === '') return DEFAULT_LIMIT;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw httpError(400, `limit must be a positive integer, got "${String(raw)}"`);
  // Nylas documents 200 as the maximum; larger values are clamped rather than refused.
  return Math.min(n, MAX_LIMIT);
}

export function encodeCursor(offset: number): string {
  return Buffer.from(`o:${offset}`, 'utf8').toString('base64url');
}

export function decodeCursor(token: unknown): number {
  if (token === undefined || token === '') return 0;
  const m = /^o:(\d+)$/.exec(Buffer.from(String(token), 'base64url').toString('utf8'));
  if (!m) throw httpError(400, 'page_token is not valid');
  return Number(m[1]);
}

export function paginate<T>(items: readonly T[], query: Record<string, unknown>): Page<T> {
  const limit = parseLimit(query.limit);
  const offset =
    query.page_token !== undefined ? decodeCursor(query.page_token) : Number(query.offset ?? 0) || 0;
  const slice = items.slice(offset, offset + limit);
  const next = offset + limit < items.length ? encodeCursor(offset + limit) : null;
  return { items: slice, nextCursor: next };
}
