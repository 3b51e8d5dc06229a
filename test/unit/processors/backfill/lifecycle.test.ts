import { applyFact, enqueue, finish } from '../../../../processors/backfill/lifecycle';
import type {
  BackfillRequest,
  GrantBackfillState,
  LifecycleFact,
} from '../../../../processors/backfill/records';

const H = 3600;
const policy = { horizonSeconds: 72 * H, historyDays: 0 };
const T0 = 1_800_000_000;

function fact(
  action: LifecycleFact['action'],
  at: number,
  extra: Partial<LifecycleFact> = {},
): LifecycleFact {
  return {
    kind: 'fact',
    id: `n-${action}-${at}`,
    grantId: 'g1',
    applicationId: 'app',
    action,
    at,
    reauthenticated: false,
    ...extra,
  };
}

function expired(at: number, lastSync?: number): GrantBackfillState {
  const t = applyFact(
    undefined,
    fact('expired', at, lastSync === undefined ? {} : { grantUpdatedAt: lastSync }),
    policy,
    0,
  );
  return t.state as GrantBackfillState;
}

describe('grant lifecycle → backfill requests', () => {
  it('a re-authentication beyond the horizon after the last sync requests a backfill of exactly that gap', () => {
    const state = expired(T0, T0 - 600);
    const t = applyFact(state, fact('updated', T0 + 5 * 24 * H, { reauthenticated: true }), policy, 42);
    expect(t.events).toEqual([
      { kind: 'requested', request: expect.objectContaining({ reason: 'reauthentication' }) },
    ]);
    const running = t.state?.running;
    expect(running?.request).toMatchObject({
      grantId: 'g1',
      applicationId: 'app',
      since: T0 - 600,
      until: T0 + 5 * 24 * H,
      families: ['messages', 'events', 'contacts', 'calendars', 'folders'],
      requestedAt: 42,
    });
    expect(running?.position).toEqual({ listing: 0, cursor: null });
    expect(t.state?.expiredAt).toBeUndefined();
    expect(t.state?.reauthenticatedAt).toBe(T0 + 5 * 24 * H);
  });

  it('within the horizon (Nylas backfills by itself) requests nothing', () => {
    const state = expired(T0, T0 - 600);
    const t = applyFact(state, fact('updated', T0 + 71 * H, { reauthenticated: true }), policy, 0);
    expect(t.events).toEqual([{ kind: 'within_horizon', gapSeconds: 71 * H + 600 }]);
    expect(t.state?.running).toBeUndefined();
  });

  it('measures the gap from grant_updated_at, not from the expiry notification', () => {
    // Expiry detected 2 h after the last sync; re-auth 71 h after the expiry is 73 h after the sync.
    const state = expired(T0, T0 - 2 * H);
    const t = applyFact(state, fact('updated', T0 + 71 * H, { reauthenticated: true }), policy, 0);
    expect(t.state?.running?.request.since).toBe(T0 - 2 * H);
  });

  it('a grant_updated_at later than the expiry itself is taken at the expiry', () => {
    expect(expired(T0, T0 + 999).lastSyncAt).toBe(T0);
  });

  it('an ordinary grant.updated (no re-authentication) requests nothing and keeps the expiry', () => {
    const state = expired(T0);
    const t = applyFact(state, fact('updated', T0 + 100 * H), policy, 0);
    expect(t.events).toEqual([]);
    expect(t.state?.expiredAt).toBe(T0);
  });

  it('a re-authentication without a known expiry requests nothing and says so', () => {
    const t = applyFact(undefined, fact('updated', T0, { reauthenticated: true }), policy, 0);
    expect(t.events).toEqual([{ kind: 'unknown_gap' }]);
    expect(t.state?.running).toBeUndefined();
  });

  it("a second grant.expired keeps the first one's gap start", () => {
    const state = expired(T0, T0 - 60);
    const again = applyFact(state, fact('expired', T0 + 10 * H, { grantUpdatedAt: T0 + 9 * H }), policy, 0);
    expect(again.state?.lastSyncAt).toBe(T0 - 60);
  });

  it('the same fact applied twice (a restore) requests one backfill', () => {
    const state = expired(T0);
    const reauth = fact('updated', T0 + 100 * H, { reauthenticated: true });
    const once = applyFact(state, reauth, policy, 0).state as GrantBackfillState;
    // A restore re-applies an input only when its tombstone was not committed; its id is the fact's.
    const twice = enqueue(once, once.running?.request as BackfillRequest, 0);
    expect(twice.events).toEqual([{ kind: 'duplicate_request', id: `reauth-${reauth.id}` }]);
    expect(twice.state?.queued).toEqual([]);
  });

  it('history on first auth only when configured', () => {
    expect(applyFact(undefined, fact('created', T0), policy, 0).state?.running).toBeUndefined();
    const t = applyFact(undefined, fact('created', T0), { ...policy, historyDays: 30 }, 0);
    expect(t.state?.running?.request).toMatchObject({
      reason: 'first_auth',
      since: T0 - 30 * 86_400,
      until: T0,
    });
  });

  it('grant.deleted forgets the grant and cancels its backfills', () => {
    let state = applyFact(expired(T0), fact('updated', T0 + 100 * H, { reauthenticated: true }), policy, 0)
      .state as GrantBackfillState;
    const manual: BackfillRequest = {
      kind: 'request',
      id: 'm1',
      grantId: 'g1',
      reason: 'manual',
      since: 1,
      until: 2,
      families: ['contacts'],
      requestedAt: 0,
    };
    state = enqueue(state, manual, 0).state as GrantBackfillState;
    const t = applyFact(state, fact('deleted', T0 + 200 * H), policy, 0);
    expect(t.state).toBeNull();
    expect(t.events).toEqual([{ kind: 'cancelled', ids: [state.running?.request.id, 'm1'] }]);
  });

  it('a backfill blocked by a 401 resumes at the next re-authentication, without a second request', () => {
    const state = applyFact(expired(T0), fact('updated', T0 + 100 * H, { reauthenticated: true }), policy, 0)
      .state as GrantBackfillState;
    const running = state.running as NonNullable<GrantBackfillState['running']>;
    const blocked: GrantBackfillState = {
      ...state,
      running: { ...running, blocked: { at: 1, detail: '401' } },
    };
    // Expired again during the backfill, re-authenticated within the horizon.
    const again = applyFact(
      blocked,
      fact('expired', T0 + 101 * H, { grantUpdatedAt: T0 + 101 * H }),
      policy,
      0,
    );
    const t = applyFact(
      again.state ?? undefined,
      fact('updated', T0 + 102 * H, { reauthenticated: true }),
      policy,
      0,
    );
    expect(t.events).toEqual([
      { kind: 'unblocked', id: running.request.id },
      { kind: 'within_horizon', gapSeconds: H },
    ]);
    expect(t.state?.running?.blocked).toBeUndefined();
    expect(t.state?.running?.request.id).toBe(running.request.id);
  });

  it('requests queue behind the running one; finishing starts the next', () => {
    const r = (id: string): BackfillRequest => ({
      kind: 'request',
      id,
      grantId: 'g1',
      reason: 'manual',
      since: 1,
      until: 2,
      families: ['folders'],
      requestedAt: 0,
    });
    let state = enqueue({ kind: 'grant', grantId: 'g1', queued: [] }, r('a'), 10).state as GrantBackfillState;
    state = enqueue(state, r('b'), 11).state as GrantBackfillState;
    expect(state.running?.request.id).toBe('a');
    expect(state.queued.map((q) => q.id)).toEqual(['b']);
    state = finish(state, 'completed', 20);
    expect(state.last).toMatchObject({ id: 'a', outcome: 'completed', finishedAt: 20 });
    expect(state.running?.request.id).toBe('b');
    expect(state.running?.startedAt).toBe(20);
    state = finish(state, 'failed', 30, '403: forbidden');
    expect(state.running).toBeUndefined();
    expect(state.last).toMatchObject({ id: 'b', outcome: 'failed', detail: '403: forbidden' });
    // A finished request sent again (the CLI retried its send) is not run twice.
    expect(enqueue(state, r('b'), 40).events).toEqual([{ kind: 'duplicate_request', id: 'b' }]);
  });
});
