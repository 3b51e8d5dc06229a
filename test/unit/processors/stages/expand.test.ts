import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decode } from '../../../../processors/stages/decode';
import {
  ApiCallError,
  applyExpansion,
  Expander,
  type ExpanderOptions,
  type ExpandOutcome,
  isDeadLetter,
  type MessageFetcher,
  needsExpansion,
  parseRetryAfter,
  sdkMessageFetcher,
  snakeKeys,
} from '../../../../processors/stages/expand';
import {
  type ThreadedMessageFetcher,
  threadedMessageFetcher,
} from '../../../../processors/stages/expand-thread';
import type { Notification } from '../../../../processors/types';
import { createWorld, startNylasApi } from '../../../../simulator';
import { messageNotification, messageObject, rawRecord } from '../../../helpers/raw-notifications';

function truncated(grantId: string, messageId: string, offset = 1): Notification {
  const d = decode(
    rawRecord({
      grantId,
      offset,
      body: messageNotification(grantId, { id: `n-${messageId}`, messageId, truncated: true }),
    }),
  );
  if (!d.ok) throw new Error(d.deadLetter.message);
  return d.notification;
}

function expander(fetch: MessageFetcher, over: Partial<ExpanderOptions> = {}) {
  const calls: string[] = [];
  const failures: string[] = [];
  const finished: string[] = [];
  const e = new Expander({
    fetch: (g, m, t) => {
      calls.push(`${g}/${m}`);
      return fetch(g, m, t);
    },
    concurrency: 4,
    deadlineMs: 2000,
    requestTimeoutMs: 500,
    backoffBaseMs: 5,
    backoffMaxMs: 20,
    random: () => 1,
    observer: { callFailed: (r) => failures.push(r), finished: (o) => finished.push(o) },
    ...over,
  });
  return { e, calls, failures, finished };
}

describe('expand: which notifications', () => {
  it('expands only message.* .truncated, never deletes', () => {
    expect(needsExpansion(truncated('g', 'm'))).toBe(true);
    const plain = decode(
      rawRecord({ grantId: 'g', offset: 1, body: messageNotification('g', { id: 'x', messageId: 'm' }) }),
    );
    const del = decode(
      rawRecord({
        grantId: 'g',
        offset: 1,
        body: messageNotification('g', { id: 'y', messageId: 'm', action: 'deleted', truncated: true }),
      }),
    );
    expect(plain.ok && needsExpansion(plain.notification)).toBe(false);
    expect(del.ok && needsExpansion(del.notification)).toBe(false);
  });
});

describe('expand: policy (injected fetcher)', () => {
  it('returns the fetched object; applyExpansion marks it expanded and keeps the ids', async () => {
    const { e } = expander(async (g, m) => ({ id: m, grant_id: g, body: '<p>full</p>' }));
    const n = truncated('g1', 'm1');
    const outcome = await e.expand(n);
    expect(outcome).toEqual({ kind: 'expanded', object: { id: 'm1', grant_id: 'g1', body: '<p>full</p>' } });
    const applied = applyExpansion(n, outcome);
    if (isDeadLetter(applied)) throw new Error('dead letter');
    expect(applied.expanded).toBe(true);
    expect(applied.envelope.data.object?.body).toBe('<p>full</p>');
    expect(applied.envelope.data.object?.subject).toBe('subject of m1');
  });

  it('honours Retry-After on 429, then succeeds', async () => {
    const at: number[] = [];
    let n = 0;
    const { e, failures } = expander(async () => {
      at.push(Date.now());
      if (n++ === 0) throw new ApiCallError('429', 429, 150);
      return { id: 'm' };
    });
    expect((await e.expand(truncated('g', 'm'))).kind).toBe('expanded');
    expect(at).toHaveLength(2);
    expect((at[1] as number) - (at[0] as number)).toBeGreaterThanOrEqual(140);
    expect(failures).toEqual(['rate_limited']);
  });

  it('cools the rate-limited grant down without delaying other grants', async () => {
    let limited = false;
    const { e } = expander(async (g) => {
      if (g === 'slow' && !limited) {
        limited = true;
        throw new ApiCallError('429', 429, 300);
      }
      return { id: 'x' };
    });
    const t0 = Date.now();
    const slow = e.expand(truncated('slow', 'a'));
    await new Promise((r) => setImmediate(r));
    const fastDone = await e.expand(truncated('fast', 'b'));
    expect(fastDone.kind).toBe('expanded');
    expect(Date.now() - t0).toBeLessThan(250);
    expect((await slow).kind).toBe('expanded');
  });

  it('maps 404 to gone without retrying; applyExpansion marks goneOnExpand', async () => {
    const { e, calls } = expander(async () => {
      throw new ApiCallError('not found', 404, undefined);
    });
    const n = truncated('g', 'm');
    const outcome = await e.expand(n);
    expect(outcome).toEqual({ kind: 'gone' });
    expect(calls).toHaveLength(1);
    const applied = applyExpansion(n, outcome);
    expect(!isDeadLetter(applied) && applied.goneOnExpand).toBe(true);
  });

  it('dead-letters 401 at once as re-drivable NYLAS_API_UNAUTHORIZED', async () => {
    const { e, calls } = expander(async () => {
      throw new ApiCallError('unauthorized', 401, undefined);
    });
    const n = truncated('g', 'm');
    const outcome = await e.expand(n);
    expect(calls).toHaveLength(1);
    const dl = applyExpansion(n, outcome);
    if (!isDeadLetter(dl)) throw new Error('expected a dead letter');
    expect(dl).toMatchObject({ reason: 'NYLAS_API_UNAUTHORIZED', stage: 'expand', redrivable: true });
  });

  it('dead-letters other 4xx at once as NYLAS_API_REJECTED', async () => {
    const { e, calls } = expander(async () => {
      throw new ApiCallError('bad', 403, undefined);
    });
    const o = await e.expand(truncated('g', 'm'));
    expect(o).toMatchObject({ kind: 'failed', reason: 'NYLAS_API_REJECTED' });
    expect(calls).toHaveLength(1);
  });

  it('retries 5xx with backoff until the deadline, then fails with NYLAS_API_DEADLINE', async () => {
    const { e, calls, failures, finished } = expander(
      async () => {
        throw new ApiCallError('boom', 503, undefined);
      },
      { deadlineMs: 200 },
    );
    const o = await e.expand(truncated('g', 'm'));
    expect(o).toMatchObject({ kind: 'failed', reason: 'NYLAS_API_DEADLINE' });
    expect(calls.length).toBeGreaterThan(2);
    expect(failures).toContain('unavailable');
    expect(failures[failures.length - 1]).toBe('deadline');
    expect(finished).toEqual(['failed']);
  });

  it('gives up early when Retry-After is beyond the deadline', async () => {
    const { e, calls } = expander(
      async () => {
        throw new ApiCallError('429', 429, 60_000);
      },
      { deadlineMs: 1000 },
    );
    const t0 = Date.now();
    expect((await e.expand(truncated('g', 'm'))).kind).toBe('failed');
    expect(Date.now() - t0).toBeLessThan(500);
    expect(calls).toHaveLength(1);
  });

  it('times out a hanging call and retries it', async () => {
    let n = 0;
    const { e, failures } = expander(
      (_g, m) => (n++ === 0 ? new Promise<never>(() => undefined) : Promise.resolve({ id: m })),
      { requestTimeoutMs: 50 },
    );
    expect((await e.expand(truncated('g', 'm'))).kind).toBe('expanded');
    expect(failures).toEqual(['unavailable']);
  });

  it('bounds concurrency over all grants', async () => {
    let inFlight = 0;
    let peak = 0;
    const release: Array<() => void> = [];
    const { e } = expander(
      () =>
        new Promise((resolve) => {
          inFlight++;
          peak = Math.max(peak, inFlight);
          release.push(() => {
            inFlight--;
            resolve({ id: 'x' });
          });
        }),
      { concurrency: 3 },
    );
    let settled = 0;
    const all = Array.from({ length: 10 }, (_, i) =>
      e.expand(truncated(`g${i}`, `m${i}`)).finally(() => {
        settled++;
      }),
    );
    while (settled < all.length) {
      await new Promise((r) => setImmediate(r));
      release.shift()?.();
    }
    const outcomes: ExpandOutcome[] = await Promise.all(all);
    expect(outcomes.every((o) => o.kind === 'expanded')).toBe(true);
    expect(peak).toBe(3);
  });

  it("removes a grant's cool-down when it expires, also when the expansion gave up before it", async () => {
    // Retry-After beyond the deadline: every expansion gives up at once, leaving its grant cooling down.
    const { e } = expander(
      async () => {
        throw new ApiCallError('429', 429, 150);
      },
      { deadlineMs: 100 },
    );
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, i) => e.expand(truncated(`g${i}`, 'm'))),
    );
    expect(outcomes.every((o) => o.kind === 'failed')).toBe(true);
    expect(e.coolingGrants).toBe(50);
    await new Promise((r) => setTimeout(r, 300));
    expect(e.coolingGrants).toBe(0);
  });

  it('close() rejects pending waits', async () => {
    const { e } = expander(async () => {
      throw new ApiCallError('429', 429, 1000);
    });
    const p = e.expand(truncated('g', 'm'));
    await new Promise((r) => setTimeout(r, 20));
    e.close();
    await expect(p).rejects.toThrow('expander closed');
  });
});

describe('expand: helpers', () => {
  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3', 0)).toBe(3000);
    expect(parseRetryAfter('0.5', 0)).toBe(500);
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:00:10 GMT', 4000)).toBe(6000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter(undefined, 0)).toBeUndefined();
  });

  it('turns the SDK camelCase keys back into Nylas wire names, keeping metadata as is', () => {
    expect(
      snakeKeys({
        threadId: 't',
        replyTo: [{ email: 'a' }],
        attachments: [{ contentType: 'x', isInline: false }],
        metadata: { myKey: 1 },
      }),
    ).toEqual({
      thread_id: 't',
      reply_to: [{ email: 'a' }],
      attachments: [{ content_type: 'x', is_inline: false }],
      metadata: { myKey: 1 },
    });
  });
});

const threads: ThreadedMessageFetcher[] = [];
afterAll(async () => {
  await Promise.all(threads.map((t) => t.close()));
});

// The processor runs the SDK on a worker thread (expand-thread.ts); both must behave the same.
describe.each([
  ['in this thread', (o: Parameters<typeof sdkMessageFetcher>[0]) => sdkMessageFetcher(o)],
  [
    'on a worker thread',
    (o: Parameters<typeof sdkMessageFetcher>[0]) => {
      const t = threadedMessageFetcher(o);
      threads.push(t);
      return t;
    },
  ],
])('expand: the official SDK against the simulator, %s', (_where, makeFetcher) => {
  const world = createWorld({ seed: 7, grants: 2 });
  const apiKey = 'test-key';
  let api: Awaited<ReturnType<typeof startNylasApi>>;
  const grant = world.grantIds[0] as string;

  beforeAll(async () => {
    api = await startNylasApi({ world, apiKey, port: 0 });
  });
  afterAll(async () => {
    await api.close();
  });
  afterEach(() => api.faults.clear());

  let shared: MessageFetcher | undefined;
  const fetcher = () => {
    shared ??= makeFetcher({ apiKey, apiUri: api.url, requestTimeoutMs: 2000 });
    return shared;
  };

  it('fetches a message with its body, in snake_case', async () => {
    world.upsertObject(grant, 'messages', messageObject(grant, 'sdk-m1', { body: '<p>the full body</p>' }));
    const m = await fetcher()(grant, 'sdk-m1', 2000);
    expect(m.id).toBe('sdk-m1');
    expect(m.grant_id).toBe(grant);
    expect(m.thread_id).toBeDefined();
    expect(m.body).toBe('<p>the full body</p>');
  });

  it('surfaces 404, 401 and 429 with Retry-After as ApiCallError', async () => {
    await expect(fetcher()(grant, 'no-such-message', 2000)).rejects.toMatchObject({ status: 404 });
    api.faults.enqueue({ match: { pathIncludes: '/messages/' }, status: 429, retryAfterSeconds: 2 });
    await expect(fetcher()(grant, 'sdk-m1', 2000)).rejects.toMatchObject({ status: 429, retryAfterMs: 2000 });
    const other = world.grantIds[1] as string;
    world.upsertObject(other, 'messages', messageObject(other, 'sdk-m2'));
    world.setGrantStatus(other, 'invalid');
    await expect(fetcher()(other, 'sdk-m2', 2000)).rejects.toMatchObject({ status: 401 });
  });

  it('the expander rides out a 429 from the API and expands', async () => {
    api.faults.enqueue({ match: { pathIncludes: '/messages/' }, status: 429, retryAfterSeconds: 0 });
    api.faults.enqueue({ match: { pathIncludes: '/messages/' }, status: 503 });
    const { e } = expander(fetcher());
    const o = await e.expand(truncated(grant, 'sdk-m1'));
    expect(o.kind).toBe('expanded');
    expect(
      api.requests
        .filter((r) => r.path.includes('sdk-m1'))
        .map((r) => r.status)
        .slice(-3),
    ).toEqual([429, 503, 200]);
  });
});

describe('expand on a worker thread: closing', () => {
  it('fails the calls in flight as retriable connection errors and refuses new ones', async () => {
    const world = createWorld({ seed: 8, grants: 1 });
    const api = await startNylasApi({ world, apiKey: 'k', port: 0 });
    try {
      const grant = world.grantIds[0] as string;
      api.faults.latencyMs = 5000;
      const t = threadedMessageFetcher({ apiKey: 'k', apiUri: api.url, requestTimeoutMs: 10_000 });
      await t.ready(); // the worker loaded the SDK
      const inFlight = t(grant, 'slow', 10_000).then(
        () => 'resolved',
        (err: unknown) => err,
      );
      await new Promise((r) => setTimeout(r, 300));
      await t.close();
      expect(await inFlight).toMatchObject({ name: 'ApiCallError', status: undefined });
      await expect(t(grant, 'after', 1000)).rejects.toMatchObject({ status: undefined });
    } finally {
      await api.close();
    }
  });
});

describe('expand on a worker thread: a call is aborted at its timeout', () => {
  it('never has more requests open at an API that never answers than EXPANSION_CONCURRENCY, and closes them', async () => {
    let open = 0;
    let peak = 0;
    let seen = 0;
    const server = createServer((_req, res) => {
      // Never answers; counts the request open until its connection is closed by the client.
      open++;
      seen++;
      peak = Math.max(peak, open);
      res.on('close', () => {
        open--;
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // The SDK's own timer is whole seconds (1 s here): without the abort, each call would stay open
    // for about a second after its 200 ms timeout freed its slot, and the calls would pile up.
    const t = threadedMessageFetcher({ apiKey: 'k', apiUri: url, requestTimeoutMs: 200 });
    try {
      await t.ready();
      const { e } = expander(t, {
        concurrency: 2,
        requestTimeoutMs: 200,
        deadlineMs: 1500,
        backoffBaseMs: 1,
        backoffMaxMs: 1,
      });
      const outcomes = await Promise.all(
        Array.from({ length: 6 }, (_, i) => e.expand(truncated(`g${i}`, `m${i}`))),
      );
      expect(outcomes.every((o) => o.kind === 'failed')).toBe(true);
      expect(seen).toBeGreaterThan(6); // timed out and retried
      expect(peak).toBeLessThanOrEqual(2);
      // Drops back: nothing is left open once the expansions are over.
      for (let i = 0; i < 100 && open > 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(open).toBe(0);
    } finally {
      await t.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
