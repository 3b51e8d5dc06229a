/**
 * Response envelopes of the Nylas v3 API (§4.2): `{request_id, data}` on success (lists add
 * `next_cursor`), `{request_id, error: {type, message}}` on failure. REST errors use word types
 * (`not_found_error`, `unauthorized`…); the webhooks management API uses numeric strings (§6).
 */
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { Request, Response } from 'express';

export function newRequestId(): string {
  return randomUUID();
}

/** An HTTP error answered with the Nylas error envelope. */
export class NylasHttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'NylasHttpError';
  }
}

/** `error.type` per status as in the OAS examples (§4.2). Types for statuses the docs do not show
 * (500, 502, 503) are the simulator's choice. */
export const ERROR_TYPE_BY_STATUS: Readonly<Record<number, [string, string]>> = {
  400: ['invalid_request_error', 'Invalid request.'],
  401: ['unauthorized', 'Unauthorized: the grant is invalid or the API key is wrong.'],
  403: ['forbidden', 'Forbidden.'],
  404: ['not_found_error', 'requested object not found'],
  408: ['request_timeout', 'Request timed out.'],
  429: ['rate_limit_error', 'Too many requests, please try again shortly.'],
  500: ['internal_error', 'Internal server error.'],
  502: ['bad_gateway', 'Bad gateway.'],
  503: ['service_unavailable', 'Service temporarily unavailable.'],
  504: ['provider_error', 'Provider request timed out.'],
};

export function httpError(
  status: number,
  message?: string,
  headers: Record<string, string> = {},
): NylasHttpError {
  const [type, fallback] = ERROR_TYPE_BY_STATUS[status] ?? ['api_error', `HTTP ${status}`];
  return new NylasHttpError(status, type, message ?? fallback, headers);
}

/** Writes JSON with a request id; gzip when the client accepts it and the body is over ~200 bytes
 * (§4.2 "Accept-Encoding: gzip is honoured; responses under about 200 bytes are not compressed"). */
export function sendJson(req: Request, res: Response, status: number, body: unknown): void {
  const json = Buffer.from(JSON.stringify(body), 'utf8');
  res.status(status);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  const requestId = (body as { request_id?: unknown }).request_id;
  if (typeof requestId === 'string') res.setHeader('X-Request-Id', requestId);
  const acceptsGzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  if (acceptsGzip && json.length > 200) {
    const gz = gzipSync(json, { level: 1 });
    res.setHeader('Content-Encoding', 'gzip');
    res.setHeader('Content-Length', String(gz.length));
    res.end(gz);
    return;
  }
  res.setHeader('Content-Length', String(json.length));
  res.end(json);
}

export function sendData(
  req: Request,
  res: Response,
  data: unknown,
  extra: Record<string, unknown> = {},
): void {
  sendJson(req, res, 200, { request_id: newRequestId(), data, ...extra });
}

export function sendError(req: Request, res: Response, err: NylasHttpError): void {
  for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
  sendJson(req, res, err.status, {
    request_id: newRequestId(),
    error: { type: err.type, message: err.message },
  });
}
