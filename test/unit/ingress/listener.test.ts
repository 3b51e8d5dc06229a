/**
 * The server's listener takes notification POSTs straight to the handler and everything else through
 * express (ingress/server.ts). Both ways must answer byte-for-byte alike: every case here is sent to a
 * server running `listener` and to one running the express `app`, and the answers are compared.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createIngressMetrics } from '../../../ingress/metrics';
import type { RejectedDelivery } from '../../../ingress/rejected';
import { createIngressApp, webhookDestination } from '../../../ingress/server';
import { silentLogger } from '../../../lib/logger';
import { createMetricsRegistry } from '../../../lib/metrics';
import { type Delivery, delivery, notification } from '../../helpers/signed-payload';

const SECRETS: Record<string, string[]> = { default: ['test-secret'], billing: ['billing-secret'] };

async function serve(pick: 'listener' | 'app') {
  const rejected: RejectedDelivery[] = [];
  const published: string[] = [];
  const ingress = createIngressApp({
    config: {
      maxBodyBytes: 4096,
      ackTimeoutMs: 8000,
      retryAfterSeconds: 5,
      maxInFlight: 100,
      maxInFlightBytes: 10_000_000,
    },
    rawTopic: 'raw',
    secrets: { configured: (d) => SECRETS[d] ?? [], candidates: (d) => SECRETS[d] ?? [] },
    publish: async (_topic, message) => {
      published.push(String(message.headers?.['nylas-destination']));
    },
    pendingBytes: () => 0,
    recordRejected: (d) => rejected.push(d),
    producerUp: () => true,
    metrics: createIngressMetrics(createMetricsRegistry({ service: 'ingress', collectDefaults: false })),
    logger: silentLogger(),
  });
  const server: Server = createServer(ingress[pick] as RequestListener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    rejected,
    published,
    stop: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

interface Answer {
  status: number;
  contentType: string | null;
  contentLength: string | null;
  retryAfter: string | null;
  body: string;
}

async function send(base: string, path: string, d: Delivery): Promise<Answer> {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: d.headers, body: d.body });
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    contentLength: res.headers.get('content-length'),
    retryAfter: res.headers.get('retry-after'),
    body: await res.text(),
  };
}

const valid = () => delivery(notification({ objectGrantId: 'g-1' }));

const CASES: Array<[string, string, () => Delivery]> = [
  ['accepted on the bare route', '/webhooks/nylas', valid],
  [
    'accepted for a named destination',
    '/webhooks/nylas/billing',
    () => delivery(notification({ objectGrantId: 'g-2' }), { secret: 'billing-secret' }),
  ],
  ['bad signature', '/webhooks/nylas', () => delivery(notification(), { secret: 'wrong' })],
  ['missing signature', '/webhooks/nylas', () => delivery(notification(), { signature: null })],
  ['malformed JSON', '/webhooks/nylas', () => delivery('{not json')],
  ['too large', '/webhooks/nylas', () => delivery(notification({ minBytes: 8192 }))],
  ['not JSON', '/webhooks/nylas', () => delivery(notification(), { contentType: 'text/plain' })],
  ['destination without a secret', '/webhooks/nylas/other', valid],
  ['invalid destination name', '/webhooks/nylas/-bad', valid],
  ['trailing slash (express routes it)', '/webhooks/nylas/', valid],
  ['query string (express routes it)', '/webhooks/nylas?x=1', valid],
  ['another case (express routes it)', '/Webhooks/Nylas', valid],
];

describe('ingress listener (direct notification path) answers like the express app', () => {
  let direct: Awaited<ReturnType<typeof serve>>;
  let routed: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    direct = await serve('listener');
    routed = await serve('app');
  });
  afterAll(async () => {
    await direct.stop();
    await routed.stop();
  });

  it.each(CASES)('%s', async (_label, path, make) => {
    const d = make();
    const rejectedBefore = [direct.rejected.length, routed.rejected.length];
    const [a, b] = [await send(direct.url, path, d), await send(routed.url, path, d)];
    expect(a).toEqual(b);
    const [ra, rb] = [direct.rejected.slice(rejectedBefore[0]), routed.rejected.slice(rejectedBefore[1])];
    expect(ra.map((r) => [r.reason, r.status, r.path, r.method, r.destination])).toEqual(
      rb.map((r) => [r.reason, r.status, r.path, r.method, r.destination]),
    );
  });

  it('publishes the same destinations both ways', () => {
    expect(direct.published).toEqual(routed.published);
    expect(direct.published).toEqual(['default', 'billing', 'default', 'default', 'default']);
  });
});

describe('webhookDestination', () => {
  it.each([
    ['/webhooks/nylas', 'default'],
    ['/webhooks/nylas/billing', 'billing'],
    ['/webhooks/nylas/a.b_c-1', 'a.b_c-1'],
    ['/webhooks/nylas/', undefined],
    ['/webhooks/nylas?challenge=1', undefined],
    ['/webhooks/nylas/billing/x', undefined],
    ['/webhooks/nylas/%62illing', undefined],
    ['/webhooks/nylasx', undefined],
    ['/WEBHOOKS/nylas', undefined],
    [undefined, undefined],
  ])('%p → %p', (url, expected) => expect(webhookDestination(url)).toBe(expected));
});
