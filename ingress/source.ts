/**
 * The optional source-IP allowlist (off by default): for deployments whose ingress sees the client's
 * address — directly, or through proxies it is told to trust — notifications from anywhere but the
 * listed networks are refused with 403 before a byte of their body is read. The list is the union of
 * INGRESS_SOURCE_ALLOWLIST (addresses and CIDRs) and, with INGRESS_SOURCE_ALLOWLIST_FROM_NYLAS,
 * Nylas's own `GET /v3/webhooks/ip-addresses` (docs/nylas-contract.md §6.4), re-fetched
 * periodically. Until that first fetch succeeds, notifications get 503 (Nylas retries) rather than 403
 * (Nylas would drop them for good).
 */
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import type { Logger } from '../lib/logger';

/** `a.b.c.d`, `a.b.c.d/nn`, an IPv6 address or `v6/nn`; throws with the entry's position when not. */
export function parseCidrs(entries: readonly string[]): BlockList {
  const list = new BlockList();
  entries.forEach((entry, index) => {
    const [address = '', prefixText, extra] = entry.trim().split('/');
    const family = isIP(address);
    const prefix = prefixText === undefined ? undefined : Number(prefixText);
    const max = family === 6 ? 128 : 32;
    if (
      family === 0 ||
      extra !== undefined ||
      (prefix !== undefined && (!Number.isInteger(prefix) || prefix < 0 || prefix > max))
    ) {
      throw new Error(`entry ${index + 1} is not an IP address or CIDR`);
    }
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, prefix, type);
  });
  return list;
}

/** Node reports IPv4 clients of a dual-stack socket as `::ffff:a.b.c.d`. */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * The client's address: the socket's peer, or — behind `trustedHops` proxies — the address the
 * outermost trusted proxy saw, i.e. the `trustedHops`-th entry from the right of X-Forwarded-For with
 * the peer appended (what express's numeric `trust proxy` does). With `trustedHops` 0 the header is
 * ignored: anyone can write it.
 */
export function clientAddress(req: IncomingMessage, trustedHops: number): string | undefined {
  const peer = req.socket.remoteAddress;
  if (trustedHops === 0 || peer === undefined) return peer === undefined ? undefined : plainAddress(peer);
  const header = req.headers['x-forwarded-for'];
  const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  const chain = [...forwarded, peer];
  return plainAddress(chain[Math.max(0, chain.length - 1 - trustedHops)] as string);
}

export interface SourceAllowlistOptions {
  /** Static entries (INGRESS_SOURCE_ALLOWLIST). */
  cidrs: readonly string[];
  /** Loads Nylas's list (undefined: not used). */
  fetchNylasList?: () => Promise<string[]>;
  refreshMs: number;
  logger: Logger;
}

const UNLOADED_RETRY_MS = 5000;

export type SourceVerdict = 'allowed' | 'denied' | 'not-loaded';

export class SourceAllowlist {
  private list: BlockList;
  private loaded: boolean;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: SourceAllowlistOptions) {
    this.list = parseCidrs(options.cidrs);
    this.loaded = options.fetchNylasList === undefined;
  }

  check(address: string | undefined): SourceVerdict {
    if (!this.loaded) return 'not-loaded';
    if (address === undefined) return 'denied';
    const family = isIP(address);
    if (family === 0) return 'denied';
    return this.list.check(address, family === 6 ? 'ipv6' : 'ipv4') ? 'allowed' : 'denied';
  }

  /** Fetches Nylas's list now and then every `refreshMs` (a failed fetch keeps the list loaded before;
   * while none has loaded, it is tried again every few seconds, not once per `refreshMs`). */
  async start(): Promise<void> {
    if (this.options.fetchNylasList === undefined) return;
    this.stopped = false;
    await this.refresh();
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.stopped) return;
    const delay = this.loaded ? this.options.refreshMs : Math.min(this.options.refreshMs, UNLOADED_RETRY_MS);
    this.timer = setTimeout(() => {
      void this.refresh().then(() => this.schedule());
    }, delay);
    this.timer.unref();
  }

  private async refresh(): Promise<void> {
    const fetchList = this.options.fetchNylasList;
    if (fetchList === undefined) return;
    try {
      const addresses = await fetchList();
      this.list = parseCidrs([...this.options.cidrs, ...addresses]);
      this.loaded = true;
      this.options.logger.info({ addresses: addresses.length }, "loaded Nylas's webhook source addresses");
    } catch (err) {
      this.options.logger.error(
        { error: (err as Error)?.message ?? String(err), loaded: this.loaded },
        "could not load Nylas's webhook source addresses; keeping the list loaded before",
      );
    }
  }
}

/** `GET {apiUri}/v3/webhooks/ip-addresses` → `data.ip_addresses` (§6.4). */
export async function fetchNylasIpAddresses(
  apiUri: string,
  apiKey: string,
  timeoutMs = 10_000,
): Promise<string[]> {
  const res = await fetch(`${apiUri}/v3/webhooks/ip-addresses`, {
    headers: { Authorization: `Bearer ${apiKey}`, Accept: 'application/json' },
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (res.status !== 200) throw new Error(`GET /v3/webhooks/ip-addresses answered ${res.status}`);
  const body = (await res.json()) as { data?: { ip_addresses?: unknown } };
  const list = body.data?.ip_addresses;
  if (!Array.isArray(list) || !list.every((a): a is string => typeof a === 'string'))
    throw new Error('GET /v3/webhooks/ip-addresses: data.ip_addresses is not a list of strings');
  return list;
}
