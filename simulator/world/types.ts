/** The types of the simulated Nylas world (grants and the objects the REST API serves). */

export const OBJECT_KINDS = ['messages', 'events', 'calendars', 'contacts', 'folders', 'threads'] as const;
/** A REST collection under /v3/grants/{grant_id}/ (§4.2). */
export type ObjectKind = (typeof OBJECT_KINDS)[number];

export type NylasObject = Record<string, unknown>;

export type GrantStatus = 'valid' | 'invalid';

export const PROVIDERS = ['google', 'microsoft', 'imap', 'yahoo', 'icloud', 'ews'] as const;
export type Provider = (typeof PROVIDERS)[number];

/** The REST Grant object (§4.2, §7): `grant_status`, `created_at`, `updated_at` ("last authenticated"). */
export interface GrantRecord {
  id: string;
  provider: Provider;
  email: string;
  name: string;
  integration_id: string;
  scope: string[];
  grant_status: GrantStatus;
  /** Unix seconds. */
  created_at: number;
  /** Unix seconds: when the user last authenticated (§7). */
  updated_at: number;
}

/**
 * A message body that is generated on demand from (seed, size) instead of being stored: a world of
 * 200 000 messages, some over 1 MB, would otherwise hold gigabytes. Same spec → same bytes.
 */
export interface BodySpec {
  seed: number;
  /** Length in characters (all ASCII, and needing no JSON escaping). */
  size: number;
}

/** What the world remembers about one object, current or deleted (the oracle's raw material). */
export interface ObjectRecord {
  kind: ObjectKind;
  grantId: string;
  id: string;
  /** Undefined once deleted. */
  data: NylasObject | undefined;
  lazyBody: BodySpec | undefined;
  /** Wall-clock ms of the first upsert (for the API's 404-right-after-create fault, §4.2). */
  createdAtMs: number;
  /** Number of upserts and deletes applied so far. */
  revision: number;
  /** Simulated Unix seconds of the last change. */
  changedAt: number;
}
