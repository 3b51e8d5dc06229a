import { ApiFaults, grantCallOf } from '../../../../simulator';

describe('grantCallOf', () => {
  it('tells list calls from by-id calls and the Grant itself', () => {
    expect(grantCallOf('/v3/grants/g1/messages')).toEqual({ grant: 'g1', kind: 'messages', list: true });
    expect(grantCallOf('/v3/grants/g1/messages/')).toEqual({ grant: 'g1', kind: 'messages', list: true });
    expect(grantCallOf('/v3/grants/g1/messages/m1')).toEqual({
      grant: 'g1',
      kind: 'messages',
      id: 'm1',
      list: false,
    });
    expect(grantCallOf('/v3/grants/g1')).toEqual({ grant: 'g1', list: false });
    expect(grantCallOf('/v3/grants')).toBeUndefined();
    expect(grantCallOf('/v3/webhooks/w1')).toBeUndefined();
  });

  it('decodes the segments (emails, ids with "/")', () => {
    expect(grantCallOf('/v3/grants/email%3Aa%40b.com/contacts/people%2Fc1')).toEqual({
      grant: 'email:a@b.com',
      kind: 'contacts',
      id: 'people/c1',
      list: false,
    });
    expect(grantCallOf('/v3/grants/g1/messages/schedules/s1')).toMatchObject({
      id: 'schedules/s1',
      list: false,
    });
  });
});

describe('ApiFaults matching', () => {
  const LIST = '/v3/grants/g1/messages';
  const BY_ID = '/v3/grants/g1/messages/m1';

  it('without list/grantId a path substring matches both the list and the by-id call (unchanged)', () => {
    const f = new ApiFaults();
    f.enqueue({ match: { pathIncludes: LIST }, status: 503, times: 2 });
    expect(f.take('GET', BY_ID)?.status).toBe(503);
    expect(f.take('GET', LIST)?.status).toBe(503);
    expect(f.take('GET', LIST)).toBeUndefined();
  });

  it('list: true answers list calls only; list: false by-id calls only', () => {
    const f = new ApiFaults();
    f.enqueue({ match: { list: true }, status: 429, retryAfterSeconds: 3 });
    f.enqueue({ match: { list: false }, status: 404 });
    expect(f.take('GET', '/v3/grants/g1')).toBeUndefined();
    expect(f.take('GET', '/v3/grants')).toBeUndefined();
    expect(f.take('GET', '/v3/webhooks')).toBeUndefined();
    expect(f.take('GET', BY_ID)?.status).toBe(404);
    expect(f.take('GET', BY_ID)).toBeUndefined();
    expect(f.take('GET', LIST)).toMatchObject({ status: 429, retryAfterSeconds: 3 });
    expect(f.pending()).toEqual([]);
  });

  it('grantId matches one grant, through the resolver when the path names it by email', () => {
    const f = new ApiFaults();
    f.enqueue({ match: { grantId: 'g2', list: true }, status: 429, times: 3 });
    const resolve = (identifier: string): string => (identifier === 'email:b@x.com' ? 'g2' : identifier);
    expect(f.take('GET', '/v3/grants/g1/events', resolve)).toBeUndefined();
    expect(f.take('GET', '/v3/grants/g2/events/e1', resolve)).toBeUndefined();
    expect(f.take('GET', '/v3/grants/g2/events', resolve)?.status).toBe(429);
    expect(f.take('GET', '/v3/grants/email%3Ab%40x.com/contacts', resolve)?.status).toBe(429);
    expect(f.pending()).toEqual([expect.objectContaining({ remaining: 1 })]);
    // without list, the Grant itself is a call on the grant too
    const g = new ApiFaults();
    g.enqueue({ match: { grantId: 'g2' }, status: 401 });
    expect(g.take('GET', '/v3/grants/g1')).toBeUndefined();
    expect(g.take('GET', '/v3/grants/g2')?.status).toBe(401);
  });

  it('combines method, path, list and grant (all must hold); first in, first out', () => {
    const f = new ApiFaults();
    f.enqueue({ match: { method: 'POST', list: true }, status: 500 });
    f.enqueue({ match: { method: 'get', pathIncludes: '/events', list: true, grantId: 'g1' }, status: 502 });
    f.enqueue({ match: { list: true }, status: 503 });
    expect(f.take('GET', '/v3/grants/g1/messages')?.status).toBe(503);
    expect(f.take('GET', '/v3/grants/g1/events')?.status).toBe(502);
    expect(f.take('GET', '/v3/grants/g1/events')).toBeUndefined();
    expect(f.pending().map((p) => p.status)).toEqual([500]);
  });

  it('refuses a Retry-After that is not whole non-negative seconds', () => {
    const f = new ApiFaults();
    expect(() => f.enqueue({ status: 429, retryAfterSeconds: 1.5 })).toThrow(/retryAfterSeconds/);
    expect(() => f.enqueue({ status: 429, retryAfterSeconds: -1 })).toThrow(/retryAfterSeconds/);
    f.enqueue({ status: 429, retryAfterSeconds: 0 });
    expect(f.pending()).toHaveLength(1);
  });
});
