/**
 * A grant's backfill state, one input at a time (pure: the coordinator writes what these return).
 *
 * The rules (docs/nylas-contract.md §7, docs/processor-internals.md "Backfill"):
 * - grant.expired: the grant stops syncing. Its `grant_updated_at` is the last successful sync; the
 *   envelope time bounds it from above (a payload claiming a later sync than its own expiry is taken at
 *   the expiry).
 * - grant.updated with re-authentication: Nylas backfills by itself when the last sync is less than the
 *   horizon (72 h) old; beyond it nothing comes, and a backfill of [last sync, re-authentication] is
 *   requested. Within the horizon no request: not one list call (the grant's API quota is the customer's).
 *   A backfill blocked by a 401 (the grant expired during it) resumes at the re-authentication.
 * - grant.created: a backfill of the last BACKFILL_HISTORY_DAYS days, when configured.
 * - grant.deleted: everything about the grant is forgotten, its backfills cancelled (the API answers
 *   nothing for a deleted grant, and a re-created grant has a new id).
 * - a request (by hand): queued behind the running one.
 *
 * A grant runs one backfill at a time; more wait in order. Request ids derive from the fact that caused
 * them, so re-applying the same fact (a restore) cannot start a second backfill.
 */
import {
  BACKFILL_FAMILIES,
  type BackfillFamily,
  type BackfillRequest,
  type GrantBackfillState,
  type LifecycleFact,
  type RunningBackfill,
} from './records';

export interface LifecyclePolicy {
  horizonSeconds: number;
  historyDays: number;
}

/** What an input did, besides the new state: for metrics and logs. */
export type LifecycleEvent =
  | { kind: 'requested'; request: BackfillRequest }
  | { kind: 'within_horizon'; gapSeconds: number }
  | { kind: 'unknown_gap' }
  | { kind: 'unblocked'; id: string }
  | { kind: 'cancelled'; ids: string[] }
  | { kind: 'duplicate_request'; id: string };

export interface Transition {
  /** null: forget the grant (tombstone its state). */
  state: GrantBackfillState | null;
  events: LifecycleEvent[];
}

export function emptyState(grantId: string): GrantBackfillState {
  return { kind: 'grant', grantId, queued: [] };
}

export function startRunning(request: BackfillRequest, now: number): RunningBackfill {
  return { request, position: { listing: 0, cursor: null }, objects: 0, pages: 0, calls: 0, startedAt: now };
}

/** Adds a request: it runs at once when nothing runs, else waits. A request already known is ignored. */
export function enqueue(state: GrantBackfillState, request: BackfillRequest, now: number): Transition {
  const known =
    state.running?.request.id === request.id ||
    state.queued.some((q) => q.id === request.id) ||
    state.last?.id === request.id;
  if (known) return { state, events: [{ kind: 'duplicate_request', id: request.id }] };
  const next: GrantBackfillState =
    state.running === undefined
      ? { ...state, running: startRunning(request, now) }
      : { ...state, queued: [...state.queued, request] };
  return { state: next, events: [{ kind: 'requested', request }] };
}

export function applyFact(
  current: GrantBackfillState | undefined,
  fact: LifecycleFact,
  policy: LifecyclePolicy,
  now: number,
): Transition {
  const base: GrantBackfillState = {
    ...(current ?? emptyState(fact.grantId)),
    ...(fact.applicationId !== '' ? { applicationId: fact.applicationId } : {}),
  };
  switch (fact.action) {
    case 'expired': {
      const lastSync = Math.min(fact.grantUpdatedAt ?? fact.at, fact.at);
      // A second grant.expired while still expired keeps the first one's last sync: the gap began then.
      if (base.expiredAt !== undefined) return { state: base, events: [] };
      return { state: { ...base, expiredAt: fact.at, lastSyncAt: lastSync }, events: [] };
    }
    case 'updated':
      return fact.reauthenticated ? reauthenticated(base, fact, policy, now) : { state: base, events: [] };
    case 'created': {
      const state: GrantBackfillState = { ...base, createdAt: fact.at };
      if (policy.historyDays <= 0) return { state, events: [] };
      return enqueue(
        state,
        request(fact, 'first_auth', Math.max(0, fact.at - policy.historyDays * 86_400), fact.at, now),
        now,
      );
    }
    case 'deleted': {
      const ids = [
        ...(base.running !== undefined ? [base.running.request.id] : []),
        ...base.queued.map((q) => q.id),
      ];
      return { state: null, events: ids.length > 0 ? [{ kind: 'cancelled', ids }] : [] };
    }
  }
}

function reauthenticated(
  base: GrantBackfillState,
  fact: LifecycleFact,
  policy: LifecyclePolicy,
  now: number,
): Transition {
  const events: LifecycleEvent[] = [];
  let state: GrantBackfillState = { ...base, reauthenticatedAt: fact.at };
  delete state.expiredAt;
  delete state.lastSyncAt;
  if (state.running?.blocked !== undefined) {
    const running = { ...state.running };
    delete running.blocked;
    state = { ...state, running };
    events.push({ kind: 'unblocked', id: running.request.id });
  }
  const gapStart = base.lastSyncAt ?? base.expiredAt;
  if (gapStart === undefined) {
    // No grant.expired seen (it came before this deployment, or the grant was never expired): the gap
    // is unknown, so nothing is requested; `nylas-stream backfill` can cover it by hand.
    events.push({ kind: 'unknown_gap' });
    return { state, events };
  }
  const gapSeconds = fact.at - gapStart;
  if (gapSeconds <= policy.horizonSeconds) {
    events.push({ kind: 'within_horizon', gapSeconds });
    return { state, events };
  }
  const t = enqueue(state, request(fact, 'reauthentication', gapStart, fact.at, now), now);
  return { state: t.state, events: [...events, ...t.events] };
}

function request(
  fact: LifecycleFact,
  reason: 'reauthentication' | 'first_auth',
  since: number,
  until: number,
  now: number,
): BackfillRequest {
  return {
    kind: 'request',
    id: `${reason === 'reauthentication' ? 'reauth' : 'history'}-${fact.id}`,
    grantId: fact.grantId,
    ...(fact.applicationId !== '' ? { applicationId: fact.applicationId } : {}),
    reason,
    since,
    until,
    families: [...BACKFILL_FAMILIES] as BackfillFamily[],
    requestedAt: now,
  };
}

/** The running backfill ended: the next queued one starts. */
export function finish(
  state: GrantBackfillState,
  outcome: 'completed' | 'failed',
  now: number,
  detail?: string,
): GrantBackfillState {
  const running = state.running;
  if (running === undefined) return state;
  const [next, ...rest] = state.queued;
  const finished: GrantBackfillState = {
    ...state,
    queued: rest,
    last: {
      id: running.request.id,
      reason: running.request.reason,
      outcome,
      ...(detail !== undefined ? { detail } : {}),
      objects: running.objects,
      calls: running.calls,
      finishedAt: now,
    },
  };
  if (next === undefined) delete finished.running;
  else finished.running = startRunning(next, now);
  return finished;
}
