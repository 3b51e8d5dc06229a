import type { IncomingMessage } from 'node:http';
import { clientAddress, fetchNylasIpAddresses, parseCidrs, SourceAllowlist } from '../../../ingress/source';
import { silentLogger } from '../../../lib/logger';
import { createWorld, type NylasApiServer, startNylasApi } from '../../../simulator';

const req = (remoteAddress: string, xff?: string) =>
  ({
    socket: { remoteAddress },
    headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
  }) as unknown as IncomingMessage;

describe('clientAddress', () => {
  it('ignores X-Forwarded-For unless proxies are trusted (anyone can write it)', () => {
    expect(clientAddress(req('203.0.113.9', '192.0.2.1'), 0)).toBe('203.0.113.9');
  });

  it('takes the address the outermost trusted proxy saw', () => {
    // client → proxy A (adds client) → proxy B (adds A) → ingress (peer B)
    expect(clientAddress(req('10.0.0.2', '192.0.2.1, 10.0.0.1'), 2)).toBe('192.0.2.1');
    expect(clientAddress(req('10.0.0.2', '192.0.2.1, 10.0.0.1'), 1)).toBe('10.0.0.1');
    // A forged leftmost entry does not help when only one proxy is trusted.
    expect(clientAddress(req('10.0.0.1', 'forged, 198.51.100.4'), 1)).toBe('198.51.100.4');
    // Fewer entries than hops: the furthest address known.
    expect(clientAddress(req('10.0.0.1'), 3)).toBe('10.0.0.1');
  });

  it('reads an IPv4 client of a dual-stack socket as IPv4', () => {
    expect(clientAddress(req('::ffff:192.0.2.5'), 0)).toBe('192.0.2.5');
  });
});

describe('SourceAllowlist', () => {
  it('allows listed addresses and networks and denies the rest', () => {
    const list = new SourceAllowlist({
      cidrs: ['192.0.2.0/24', '198.51.100.7', '2001:db8::/32'],
      refreshMs: 60_000,
      logger: silentLogger(),
    });
    expect(list.check('192.0.2.200')).toBe('allowed');
    expect(list.check('198.51.100.7')).toBe('allowed');
    expect(list.check('2001:db8::1')).toBe('allowed');
    expect(list.check('198.51.100.8')).toBe('denied');
    expect(list.check('not an address')).toBe('denied');
    expect(list.check(undefined)).toBe('denied');
  });

  it('refuses entries that are not addresses or CIDRs, by position', () => {
    expect(() => parseCidrs(['10.0.0.0/8', '10.0.0.0/40'])).toThrow('entry 2');
    expect(() => parseCidrs(['example.com'])).toThrow('entry 1');
  });

  describe("with Nylas's list (the simulator's GET /v3/webhooks/ip-addresses)", () => {
    let api: NylasApiServer;
    beforeAll(async () => {
      api = await startNylasApi({
        world: createWorld({ seed: 3, grants: 1 }),
        apiKey: 'nyk_source',
        management: { ipAddresses: ['198.51.100.0/24', '203.0.113.10'] },
      });
    });
    afterAll(() => api.close());

    it('fetches the list with the API key', async () => {
      expect(await fetchNylasIpAddresses(api.url, 'nyk_source')).toEqual(['198.51.100.0/24', '203.0.113.10']);
      await expect(fetchNylasIpAddresses(api.url, 'wrong-key')).rejects.toThrow('answered 401');
    });

    it('is "not-loaded" until the list arrives, then allows Nylas and the static entries', async () => {
      let fail = true;
      const list = new SourceAllowlist({
        cidrs: ['192.0.2.1'],
        fetchNylasList: () =>
          fail ? Promise.reject(new Error('down')) : fetchNylasIpAddresses(api.url, 'nyk_source'),
        refreshMs: 60_000,
        logger: silentLogger(),
      });
      await list.start();
      expect(list.check('198.51.100.9')).toBe('not-loaded');
      list.stop();
      fail = false;
      await list.start();
      list.stop();
      expect(list.check('198.51.100.9')).toBe('allowed');
      expect(list.check('203.0.113.10')).toBe('allowed');
      expect(list.check('192.0.2.1')).toBe('allowed');
      expect(list.check('203.0.113.11')).toBe('denied');
    });
  });
});
