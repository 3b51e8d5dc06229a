/**
 * The ingress HTTP app (express 5), built from injected dependencies so tests can drive it with fakes
 * or with the real batcher and broker. Routes and their answers are docs/architecture.md's "Ingress":
 *
 *   GET  /webhooks/nylas[/:destination]?challenge=X  → 200, body exactly X, text/plain, Content-Length
 *   POST /webhooks/nylas[/:destination]              → 200 only after Kafka acknowledged the record
 *   GET  /healthz  /readyz  /metrics
 *
 * A notification goes through: admission (shutting down? source allowed? a signature header of the
 * right shape? too much in flight?) → destination has secrets → media type → raw body (bounded in size,
 * in time, and charged to the budget for not-yet-verified bodies) → signature on the raw bytes →
 * envelope summary (gunzip if needed) → publish and wait for the acknowledgement. Everything before the
 * body is decided on the head alone and answered with `Connection: close`, so a stranger's body is
 * never read, drained or buffered. Errors become statuses in ingress/status.ts.
 *
 * `listener` is what the HTTP server runs: a POST to exactly `/webhooks/nylas` or
 * `/webhooks/nylas/<destination>` goes straight to the notification handler, everything else through
 * express. The handler is the same either way and answers with plain node:http calls; express's routing
 * and response helpers were a large share of the ingress's CPU per notification (npm run bench; figures
 * in docs/benchmarks.md, why in docs/decisions/0004-raw-body-route.md).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Message } from 'kafkajs';
import { BadInputError, ErrorCodes, NylasStreamError, TransientError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { readRawBody } from './body';
import {
  INGRESS_DEFAULTS,
  type IngressSection,
  type IngressStrangersConfig,
  UNVERIFIED_PER_REQUEST_BYTES,
} from './config';
import { type ContentEncoding, readEnvelope } from './envelope';
import type { IngressMetrics, IngressRoute } from './metrics';
import { buildRawRecord } from './record';
import type { RejectedDelivery } from './rejected';
import { DEFAULT_DESTINATION, isDestinationName } from './secrets';
import { parseSignatureHeader, SIGNATURE_HEADER, verifySignature } from './signature';
import { clientAddress, type SourceAllowlist } from './source';
import { httpOutcomeFor } from './status';
import { UnverifiedBudget } from './unverified';

export const WEBHOOK_PATH = '/webhooks/nylas';
const WEBHOOK_PATH_SLASH = `${WEBHOOK_PATH}/`;

/** The 200 answer to an accepted notification (what express's res.json({ ok: true }) wrote). */
const OK_BODY = Buffer.from(JSON.stringify({ ok: true }));
const OK_HEADERS = {
  'Content-Type': 'application/json; charset=utf-8',
  'Content-Length': String(OK_BODY.length),
};

export interface IngressAppDeps {
  config: Pick<
    IngressSection,
    'maxBodyBytes' | 'ackTimeoutMs' | 'retryAfterSeconds' | 'maxInFlight' | 'maxInFlightBytes'
  > & { strangers?: IngressStrangersConfig };
  /** The optional source allowlist (ingress/source.ts). */
  source?: { allowlist: SourceAllowlist; trustProxyHops: number };
  rawTopic: string;
  secrets: {
    configured(destination: string): readonly string[];
    candidates(destination: string): readonly string[];
  };
  /** Resolves when Kafka acknowledged `message` (the batcher's publish). */
  publish: (topic: string, message: Message, deadline: number) => Promise<void>;
  /** Body bytes waiting for an acknowledgement (the batcher's pendingBytes). */
  pendingBytes: () => number;
  recordRejected: (delivery: RejectedDelivery) => void;
  producerUp: () => boolean;
  metrics: IngressMetrics;
  logger: Logger;
  now?: () => number;
}

export interface IngressApp {
  /** Every route (challenge, notifications, health, readiness, metrics). */
  app: express.Express;
  /** The server's request listener: notification POSTs take the direct path, the rest goes to `app`. */
  listener: (req: IncomingMessage, res: ServerResponse) => void;
  /** Readiness turns false and new notifications get 503 (in-flight ones finish). */
  beginShutdown(): void;
  isShuttingDown(): boolean;
  /** Notification requests being read, verified or waiting for their acknowledgement. */
  activeRequests(): number;
  /** Resolves when no notification request is in progress. */
  whenIdle(): Promise<void>;
  /** What not-yet-verified bodies hold. */
  unverified: UnverifiedBudget;
}

/** Error codes worth a rejected-topic record (bad input and unknown destinations, not Kafka faults). */
const RECORDED_CODES = new Set<string>([
  ErrorCodes.SIGNATURE_MISSING,
  ErrorCodes.SIGNATURE_INVALID,
  ErrorCodes.MALFORMED_JSON,
  ErrorCodes.MALFORMED_ENVELOPE,
  ErrorCodes.BODY_TOO_LARGE,
  ErrorCodes.UNSUPPORTED_MEDIA_TYPE,
  ErrorCodes.UNKNOWN_DESTINATION,
  ErrorCodes.SOURCE_NOT_ALLOWED,
  ErrorCodes.BODY_DEADLINE_EXCEEDED,
  ErrorCodes.UNVERIFIED_BUDGET_FULL,
]);

/** Accepts application/json, application/*+json, or no Content-Type at all (Nylas does not document
 * the header; refusing its absence would make Nylas drop notifications forever). */
export function checkContentType(header: string | undefined): string {
  if (header === undefined || header.trim() === '') return 'application/json';
  const mediaType = (header.split(';')[0] ?? '').trim().toLowerCase();
  if (mediaType === 'application/json' || /^application\/[a-z0-9.!#$&^_-]+\+json$/.test(mediaType))
    return header;
  throw new BadInputError(ErrorCodes.UNSUPPORTED_MEDIA_TYPE, `Content-Type ${mediaType} is not JSON`);
}

export function checkContentEncoding(header: string | undefined): ContentEncoding {
  const value = (header ?? '').trim().toLowerCase();
  if (value === '' || value === 'identity') return 'identity';
  if (value === 'gzip' || value === 'x-gzip') return 'gzip';
  throw new BadInputError(ErrorCodes.UNSUPPORTED_MEDIA_TYPE, `Content-Encoding ${value} is not supported`);
}

/**
 * After refusing a body (413), drain what the sender still sends instead of closing the socket on
 * unread data (which resets the connection and can lose the 413 on the way). Drained bytes are
 * discarded, not buffered, and both the amount and the time are bounded; past either, the connection
 * is cut.
 */
function drainRefusedBody(req: IncomingMessage, maxBytes: number, maxMs: number): void {
  let drained = 0;
  const cut = () => req.socket.destroy();
  const timer = setTimeout(cut, maxMs);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > maxBytes) {
      clearTimeout(timer);
      cut();
    }
  });
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  req.resume();
}

export function createIngressApp(deps: IngressAppDeps): IngressApp {
  const { config, metrics, logger } = deps;
  const now = deps.now ?? Date.now;
  const strangers = config.strangers ?? INGRESS_DEFAULTS;
  const unverified = new UnverifiedBudget(strangers.unverifiedMaxBytes, UNVERIFIED_PER_REQUEST_BYTES);
  let shuttingDown = false;
  let active = 0;
  let idleWaiters: Array<() => void> = [];

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  const countResponse = (res: ServerResponse, route: IngressRoute) => {
    res.once('finish', () => metrics.requests.inc({ route, status: String(res.statusCode) }));
  };

  const sendError = (
    req: IncomingMessage,
    res: ServerResponse,
    err: unknown,
    destination: string,
    ctx: ErrorContext,
  ) => {
    if (err instanceof NylasStreamError && err.code === ErrorCodes.REQUEST_ABORTED) {
      // Nobody is listening for an answer; nothing was written.
      res.destroy();
      return;
    }
    const outcome = httpOutcomeFor(err, config.retryAfterSeconds);
    if (outcome.code === 'INTERNAL') logger.error({ err }, 'unexpected error while handling a notification');
    if (outcome.retryAfterSeconds !== undefined)
      res.setHeader('Retry-After', String(outcome.retryAfterSeconds));
    if (outcome.code === ErrorCodes.BODY_TOO_LARGE) {
      drainRefusedBody(req, config.maxBodyBytes, 5000);
    } else if (!ctx.bodyRead || outcome.code === ErrorCodes.SHUTTING_DOWN) {
      // Answered on the head alone (or cut mid-body): close instead of letting node drain a body
      // nobody will use; node ends the socket as soon as the answer is written.
      res.setHeader('Connection', 'close');
    }
    const message = err instanceof NylasStreamError ? err.message : 'temporarily unavailable';
    if (RECORDED_CODES.has(outcome.code)) {
      deps.recordRejected({
        reason: outcome.code,
        status: outcome.status,
        message,
        destination,
        method: req.method ?? '',
        path: pathOf(req),
        remoteAddress: req.socket.remoteAddress,
        headers: req.headers,
        receivedAt: ctx.receivedAt,
        body: ctx.body,
        size: ctx.body === undefined ? (declaredLength(req) ?? receivedBytesOf(err)) : undefined,
      });
    }
    sendJson(res, outcome.status, { error: { code: outcome.code, message } });
  };

  /** What can be refused from the request head alone: a source outside the allowlist, a signature
   * header that is missing or not 64 hex characters. No body byte is read for these. */
  const refusedOnHead = (req: IncomingMessage): NylasStreamError | undefined => {
    if (deps.source !== undefined) {
      const verdict = deps.source.allowlist.check(clientAddress(req, deps.source.trustProxyHops));
      if (verdict === 'denied')
        return new BadInputError(
          ErrorCodes.SOURCE_NOT_ALLOWED,
          'the client address is not in the source allowlist',
        );
      if (verdict === 'not-loaded')
        return new TransientError(
          ErrorCodes.SOURCE_NOT_ALLOWED,
          "Nylas's source address list is not loaded yet",
        );
    }
    const given = parseSignatureHeader(req.headers[SIGNATURE_HEADER]);
    if (typeof given !== 'string') return undefined;
    metrics.signatureFailures.inc({ reason: given });
    return given === 'missing'
      ? new BadInputError(ErrorCodes.SIGNATURE_MISSING, 'X-Nylas-Signature is missing')
      : new BadInputError(ErrorCodes.SIGNATURE_INVALID, MALFORMED_SIGNATURE);
  };

  // ---- challenge ------------------------------------------------------------------------------
  const challenge = (req: Request, res: Response) => {
    countResponse(res, 'challenge');
    const destination = destinationOf(req);
    if (!isDestinationName(destination)) {
      res.status(404).json({ error: { code: 'NOT_FOUND', message: 'unknown route' } });
      return;
    }
    const value = req.query.challenge;
    if (typeof value !== 'string') {
      res.status(400).type('text/plain').send('expected exactly one "challenge" query parameter');
      return;
    }
    // Exactly the value, nothing else, with a Content-Length (never chunked): §2.2 of the contract.
    const body = Buffer.from(value, 'utf8');
    res.status(200);
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('Content-Length', String(body.length));
    res.setHeader('Cache-Control', 'no-store');
    res.end(body);
  };

  // ---- notification ---------------------------------------------------------------------------
  const notification = async (req: IncomingMessage, res: ServerResponse, destination: string) => {
    const receivedAt = now();
    countResponse(res, 'notification');
    const ctx: ErrorContext = { receivedAt, body: undefined, bodyRead: false };
    if (!isDestinationName(destination)) {
      sendJson(res, 404, { error: { code: 'NOT_FOUND', message: 'unknown route' } });
      return;
    }
    if (shuttingDown) {
      sendError(
        req,
        res,
        new TransientError(ErrorCodes.SHUTTING_DOWN, 'the ingress is shutting down'),
        destination,
        ctx,
      );
      return;
    }
    const refusal = refusedOnHead(req);
    if (refusal !== undefined) {
      sendError(req, res, refusal, destination, ctx);
      return;
    }
    if (active >= config.maxInFlight) {
      sendError(
        req,
        res,
        new TransientError(ErrorCodes.OVERLOADED, 'too many requests in flight'),
        destination,
        ctx,
      );
      return;
    }
    active += 1;
    res.once('close', () => {
      active -= 1;
      if (active === 0 && idleWaiters.length > 0) {
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const w of waiters) w();
      }
    });
    try {
      if (deps.secrets.candidates(destination).length === 0) {
        // The secret may simply not be installed yet (Nylas creates it after the challenge): 503 lets
        // Nylas retry for the 10-20 minutes of its retry window instead of dropping the notification.
        throw new TransientError(
          ErrorCodes.UNKNOWN_DESTINATION,
          `no webhook secret is configured for destination "${destination}"`,
        );
      }
      const contentType = checkContentType(req.headers['content-type']);
      const encoding = checkContentEncoding(req.headers['content-encoding']);
      const body = await readRawBody(req, config.maxBodyBytes, {
        budget: unverified,
        deadlineAt: receivedAt + strangers.bodyDeadlineMs,
        now,
      });
      ctx.body = body;
      ctx.bodyRead = true;
      const signatureHeader = req.headers[SIGNATURE_HEADER];
      const verdict = verifySignature(body, signatureHeader, deps.secrets.candidates(destination));
      if (!verdict.ok) {
        if (verdict.reason === 'mismatch' && deps.secrets.configured(destination).length === 0) {
          throw new TransientError(
            ErrorCodes.UNKNOWN_DESTINATION,
            `no webhook secret is configured for destination "${destination}"`,
          );
        }
        metrics.signatureFailures.inc({ reason: verdict.reason });
        throw verdict.reason === 'missing'
          ? new BadInputError(ErrorCodes.SIGNATURE_MISSING, 'X-Nylas-Signature is missing')
          : new BadInputError(
              ErrorCodes.SIGNATURE_INVALID,
              verdict.reason === 'malformed'
                ? MALFORMED_SIGNATURE
                : 'X-Nylas-Signature does not match any secret of this destination',
            );
      }
      const envelope = await readEnvelope(body, encoding, config.maxBodyBytes);
      if (deps.pendingBytes() + body.length > config.maxInFlightBytes) {
        throw new TransientError(ErrorCodes.OVERLOADED, 'too many bytes waiting for Kafka');
      }
      const record = buildRawRecord({
        body,
        signature: String(signatureHeader).trim(),
        contentType,
        contentEncoding: encoding,
        destination,
        receivedAt,
        envelope,
      });
      metrics.inFlight.inc();
      try {
        await deps.publish(deps.rawTopic, record, receivedAt + config.ackTimeoutMs);
      } finally {
        metrics.inFlight.dec();
      }
      metrics.ackLatency.observe((now() - receivedAt) / 1000);
      metrics.payloadBytes.observe(body.length);
      res.writeHead(200, OK_HEADERS).end(OK_BODY);
    } catch (err) {
      sendError(req, res, err, destination, ctx);
    }
  };

  app.get(WEBHOOK_PATH, challenge);
  app.get(`${WEBHOOK_PATH}/:destination`, challenge);
  const routedNotification = (req: Request, res: Response) => notification(req, res, destinationOf(req));
  app.post(WEBHOOK_PATH, routedNotification);
  app.post(`${WEBHOOK_PATH}/:destination`, routedNotification);

  // ---- health, readiness, metrics -------------------------------------------------------------
  app.get('/healthz', (_req, res) => {
    res.status(200).json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const producer = deps.producerUp();
    const ready = producer && !shuttingDown;
    res.status(ready ? 200 : 503).json({
      status: ready ? 'ready' : 'not ready',
      kafkaProducer: producer ? 'connected' : 'disconnected',
      shuttingDown,
    });
  });
  app.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.end(await metrics.registry.metrics());
  });

  // Errors express itself raises (e.g. an undecodable path parameter): 4xx stay 4xx, anything else
  // goes through the one mapping (503, never 500).
  app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const status = (err as { status?: unknown })?.status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(status).json({ error: { code: 'BAD_REQUEST', message: 'bad request' } });
      return;
    }
    answerUnexpected(err, res);
  });

  /** Anything a handler did not answer itself: the one mapping (503, never 500). */
  function answerUnexpected(err: unknown, res: ServerResponse): void {
    const outcome = httpOutcomeFor(err, config.retryAfterSeconds);
    logger.error({ err }, 'unexpected error in the ingress app');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (outcome.retryAfterSeconds !== undefined)
      res.setHeader('Retry-After', String(outcome.retryAfterSeconds));
    sendJson(res, outcome.status, { error: { code: outcome.code, message: 'temporarily unavailable' } });
  }

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const destination = req.method === 'POST' ? webhookDestination(req.url) : undefined;
    if (destination === undefined) {
      app(req, res);
      return;
    }
    notification(req, res, destination).catch((err: unknown) => answerUnexpected(err, res));
  };

  return {
    app,
    listener,
    beginShutdown: () => {
      shuttingDown = true;
    },
    isShuttingDown: () => shuttingDown,
    activeRequests: () => active,
    whenIdle: () =>
      active === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve)),
    unverified,
  };
}

/**
 * The destination of a notification POST whose request target is exactly `/webhooks/nylas` or
 * `/webhooks/nylas/<valid destination name>`; undefined for anything else (a query string, a trailing
 * slash, another case, percent-encoding), which express routes as before.
 */
export function webhookDestination(url: string | undefined): string | undefined {
  if (url === WEBHOOK_PATH) return DEFAULT_DESTINATION;
  if (url === undefined || !url.startsWith(WEBHOOK_PATH_SLASH)) return undefined;
  const name = url.slice(WEBHOOK_PATH_SLASH.length);
  return isDestinationName(name) ? name : undefined;
}

/** What express's res.json wrote: JSON, Content-Type with charset, Content-Length. */
function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', String(Buffer.byteLength(text)));
  res.end(text);
}

/** The request's path without the query (express's req.path when express routed it). */
function pathOf(req: IncomingMessage): string {
  const routed = (req as Partial<Request>).path;
  if (typeof routed === 'string') return routed;
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** The `:destination` path parameter, or "default" on the bare route. */
function destinationOf(req: Request): string {
  const param: unknown = req.params.destination;
  if (param === undefined) return DEFAULT_DESTINATION;
  return typeof param === 'string' ? param : '';
}

interface ErrorContext {
  receivedAt: number;
  body: Buffer | undefined;
  /** The whole body was read (false: answered on the head, or cut while reading). */
  bodyRead: boolean;
}

const MALFORMED_SIGNATURE = 'X-Nylas-Signature is not a 64-character hex HMAC-SHA256';

function receivedBytesOf(err: unknown): number | undefined {
  const v = err instanceof NylasStreamError ? err.details.receivedBytes : undefined;
  return typeof v === 'number' ? v : undefined;
}

function declaredLength(req: IncomingMessage): number | undefined {
  const v = Number(req.headers['content-length']);
  return Number.isFinite(v) ? v : undefined;
}
