/**
 * Reads a request body as raw bytes with a hard limit, for the webhook route only (the signature is
 * computed over these exact bytes, so no parser may touch them first). A declared Content-Length over
 * the limit is refused before a byte is read; a chunked body is refused as soon as it crosses the
 * limit, without buffering the rest.
 */
import type { IncomingMessage } from 'node:http';
import { BadInputError, ErrorCodes, type NylasStreamError, TransientError } from '../lib/errors';
import type { UnverifiedBudget } from './unverified';

export interface ReadBodyOptions {
  /** Charges the bytes read to the budget for not-yet-verified bodies (released when read). */
  budget?: UnverifiedBudget;
  /** Epoch ms by which the whole body must have arrived (BODY_DEADLINE_EXCEEDED after it). */
  deadlineAt?: number;
  now?: () => number;
}

export function bodyTooLarge(limit: number, details: Record<string, number>): BadInputError {
  return new BadInputError(ErrorCodes.BODY_TOO_LARGE, `request body exceeds ${limit} bytes`, {
    details: { limit, ...details },
  });
}

export function readRawBody(
  req: IncomingMessage,
  limit: number,
  options: ReadBodyOptions = {},
): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined) {
    const n = Number(declared);
    if (Number.isFinite(n) && n > limit) {
      return Promise.reject(bodyTooLarge(limit, { declaredBytes: n }));
    }
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const cleanup = () => {
      done = true;
      clearTimeout(timer);
      hold?.release();
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    /** Stops reading: what is still on the wire is not buffered (the response closes the connection). */
    const refuse = (err: NylasStreamError) => {
      if (done) return;
      cleanup();
      req.pause();
      chunks.length = 0;
      reject(err);
    };
    const hold = options.budget?.hold(() =>
      refuse(
        new TransientError(
          ErrorCodes.UNVERIFIED_BUDGET_FULL,
          'too many bytes of unverified bodies are held; the oldest was cut',
          { details: { receivedBytes: size } },
        ),
      ),
    );
    const now = options.now ?? Date.now;
    const timer =
      options.deadlineAt === undefined
        ? undefined
        : setTimeout(
            () =>
              refuse(
                new TransientError(
                  ErrorCodes.BODY_DEADLINE_EXCEEDED,
                  'the request body did not arrive within the body deadline',
                  { details: { receivedBytes: size } },
                ),
              ),
            Math.max(0, options.deadlineAt - now()),
          );
    const onData = (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        refuse(bodyTooLarge(limit, { receivedBytes: size }));
        return;
      }
      chunks.push(chunk);
      hold?.add(chunk.length);
    };
    const onEnd = () => {
      if (done) return;
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const aborted = () =>
      new TransientError(
        ErrorCodes.REQUEST_ABORTED,
        'the sender closed the connection before the body ended',
      );
    const onError = () => {
      if (done) return;
      cleanup();
      reject(aborted());
    };
    const onClose = () => {
      if (done) return;
      cleanup();
      reject(aborted());
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
