/**
 * The local Nylas API: the REST endpoints a receiver calls (§4.2, §7) and the webhooks management API
 * (§6), on one HTTP server bound to 127.0.0.1. Its URL works as NYLAS_API_URI for the official SDK.
 *
 * Every request passes, in order: Nylas's clock (`Date`) → recording → injected latency → Bearer API
 * key → injected fault → the route. Errors are answered with the Nylas error envelope in one place (the
 * last middleware).
 */
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { type Logger, silentLogger } from '../../lib/logger';
import { type Clock, realClock } from '../clock';
import { type ManagementOptions, WebhookRegistry, webhooksRouter } from '../management/webhooks';
import { createMockNotifications } from '../payloads/mock';
import type { World } from '../world/world';
import { httpError, NylasHttpError, sendError } from './envelopes';
import { ApiFaults } from './faults';
import { grantsRouter } from './grants-routes';

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  /** The query string as sent, without `?` ('' when none). */
  rawQuery: string;
  /** The query parameters, decoded; a repeated parameter keeps its first value, as the routes read it. */
  query: Readonly<Record<string, string>>;
  status: number;
  /** Wall-clock epoch ms when the response finished. */
  at: number;
  /** From the request reaching the app to the response's last byte handed to the OS, ms. */
  durationMs: number;
}

export interface NylasApiOptions {
  world: World;
  apiKey: string;
  /** 0 (default) = a random free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  logger?: Logger;
  /** Clock for webhook timestamps and challenge timeouts (default: the real clock). */
  clock?: Clock;
  /** Webhooks management options (challenge timeout, allowing http:// URLs…). */
  management?: ManagementOptions;
  /** Keep at most this many entries in `requests` (default 100 000; oldest dropped). */
  maxRecordedRequests?: number;
}

export interface NylasApiServer {
  /** e.g. http://127.0.0.1:PORT — usable as NYLAS_API_URI. */
  url: string;
  port: number;
  close(): Promise<void>;
  faults: ApiFaults;
  requests: ReadonlyArray<RecordedRequest>;
  /** The webhook destinations created through the management API. */
  webhooks: WebhookRegistry;
  world: World;
}

/** The query of a request target: raw (without `?`) and decoded, first value per name. */
function queryOf(url: string): { rawQuery: string; query: Record<string, string> } {
  const i = url.indexOf('?');
  if (i === -1) return { rawQuery: '', query: {} };
  const rawQuery = url.slice(i + 1);
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(rawQuery)) if (!(k in query)) query[k] = v;
  return { rawQuery, query };
}

/** RFC 7231 IMF-fixdate of Unix seconds, e.g. `Fri, 16 Aug 2024 15:26:25 GMT`. */
function httpDate(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toUTCString();
}

function bearerMatches(header: string | undefined, apiKey: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m) return false;
  const given = Buffer.from((m[1] as string).trim());
  const expected = Buffer.from(apiKey);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export async function startNylasApi(options: NylasApiOptions): Promise<NylasApiServer> {
  const log = (options.logger ?? silentLogger()).child({ component: 'simulator-api' });
  const faults = new ApiFaults();
  const clock = options.clock ?? realClock;
  const requests: RecordedRequest[] = [];
  const maxRecorded = options.maxRecordedRequests ?? 100_000;
  const webhooks = new WebhookRegistry({
    clock,
    logger: log,
    mockNotification: createMockNotifications(options.world.applicationId),
    ...options.management,
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  // Every response carries Nylas's clock, the world's simulated time (the clock of envelope `time`), not
  // the wall clock: a receiver reads a list response's `Date` as "when Nylas read this state". It is
  // stamped when the head is written, not when the request arrives, because the injected latency and
  // body parsing are asynchronous and the world's clock can move meanwhile; the route handlers read the
  // world and answer synchronously, so the head is written at the moment the state was read.
  app.use((_req: Request, res: Response, next: NextFunction) => {
    const writeHead = res.writeHead;
    res.writeHead = function (this: Response, ...args: unknown[]) {
      this.setHeader('Date', httpDate(options.world.now()));
      return (writeHead as (...a: unknown[]) => Response).apply(this, args);
    } as Response['writeHead'];
    next();
  });

  app.use((req: Request, res: Response, next: NextFunction) => {
    const path = req.path;
    const { rawQuery, query } = queryOf(req.originalUrl);
    const started = performance.now();
    res.on('finish', () => {
      if (requests.length >= maxRecorded) requests.splice(0, Math.ceil(maxRecorded / 10));
      const durationMs = performance.now() - started;
      requests.push({
        method: req.method,
        path,
        rawQuery,
        query,
        status: res.statusCode,
        at: Date.now(),
        durationMs,
      });
    });
    next();
  });

  app.use(async (_req: Request, _res: Response, next: NextFunction) => {
    if (faults.latencyMs > 0) await realClock.sleep(faults.latencyMs);
    next();
  });

  // §4.2 / §6: every endpoint needs `Authorization: Bearer <NYLAS_API_KEY>`.
  app.use('/v3', (req: Request, _res: Response, next: NextFunction) => {
    if (!bearerMatches(req.headers.authorization, options.apiKey)) {
      next(httpError(401, 'Unauthorized: missing or invalid API key'));
      return;
    }
    next();
  });

  app.use((req: Request, _res: Response, next: NextFunction) => {
    const fault = faults.take(
      req.method,
      req.path,
      (identifier) => options.world.getGrant(identifier)?.id ?? identifier,
    );
    if (!fault) {
      next();
      return;
    }
    const headers: Record<string, string> = {};
    if (fault.retryAfterSeconds !== undefined) headers['Retry-After'] = String(fault.retryAfterSeconds);
    next(httpError(fault.status, undefined, headers));
  });

  app.use(express.json({ limit: '5mb' }));
  app.use(webhooksRouter(webhooks));
  app.use(grantsRouter(options.world, faults));

  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(httpError(404, `no route for ${req.method} ${req.path}`));
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof NylasHttpError) {
      sendError(req, res, err);
      return;
    }
    const status = (err as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      sendError(req, res, httpError(status, (err as Error).message));
      return;
    }
    log.error({ err }, 'simulator API handler failed');
    sendError(req, res, httpError(500));
  });

  const host = options.host ?? '127.0.0.1';
  const server = await new Promise<import('node:http').Server>((resolve, reject) => {
    const s = app.listen(options.port ?? 0, host, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log.debug({ url }, 'simulated Nylas API listening');

  let closed: Promise<void> | undefined;
  return {
    url,
    port,
    faults,
    requests,
    webhooks,
    world: options.world,
    close: () => {
      closed ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
