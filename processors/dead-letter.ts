/**
 * The DLQ record (docs/architecture.md: "what could not be processed, with the reason; re-drivable"): the
 * original key, value bytes and headers, unchanged, plus `dlq-*` headers saying what failed where. A
 * redrive strips the `dlq-*` headers and produces key, value and the remaining headers back to the raw
 * topic, which makes it the same delivery the ingress once wrote.
 */
import type { IHeaders, Message } from 'kafkajs';
import {
  type DeadLetterReason,
  errorCodeOf,
  isRedrivable,
  isRetriable,
  NylasStreamError,
  thrownText,
} from '../lib/errors';
import type { DeadLetter, RawRecord } from './types';

export const DLQ_HEADERS = {
  /** DeadLetterReason (processors/types.ts), the redrive filter (`--filter reason=…`). */
  reason: 'dlq-reason',
  /** The stable error code (lib/errors.ts) behind the reason. */
  errorCode: 'dlq-error-code',
  errorMessage: 'dlq-error-message',
  /** decode | dedupe | order | expand | normalize | encode | produce | isolation (processors/poison/) */
  stage: 'dlq-stage',
  sourceTopic: 'dlq-source-topic',
  sourcePartition: 'dlq-source-partition',
  sourceOffset: 'dlq-source-offset',
  /** "true" when a redrive after a fix can succeed (a 401 after re-authentication), else "false". */
  redrivable: 'dlq-redrivable',
  /** Epoch ms. */
  deadLetteredAt: 'dlq-dead-lettered-at',
} as const;

export const DLQ_HEADER_PREFIX = 'dlq-';

const MAX_MESSAGE_CHARS = 2000;

export function deadLetterMessage(dl: DeadLetter, now: number): Message {
  const headers: IHeaders = {};
  for (const [k, v] of Object.entries(dl.record.headers)) {
    // A record dead-lettered again after a redrive carries only the latest failure.
    if (!k.startsWith(DLQ_HEADER_PREFIX) && v !== undefined) headers[k] = v;
  }
  headers[DLQ_HEADERS.reason] = dl.reason;
  headers[DLQ_HEADERS.errorCode] = dl.code ?? dl.reason;
  headers[DLQ_HEADERS.errorMessage] = dl.message.slice(0, MAX_MESSAGE_CHARS);
  headers[DLQ_HEADERS.stage] = dl.stage;
  headers[DLQ_HEADERS.sourceTopic] = dl.record.topic;
  headers[DLQ_HEADERS.sourcePartition] = String(dl.record.partition);
  headers[DLQ_HEADERS.sourceOffset] = dl.record.offset;
  headers[DLQ_HEADERS.redrivable] = String(dl.redrivable);
  headers[DLQ_HEADERS.deadLetteredAt] = String(now);
  return { key: dl.record.key, value: dl.record.value, headers };
}

/** A record's dead letter under `reason`, re-drivable as lib/errors.ts FAILURE_CODES says; `code` is the
 * error behind it when a stage caught one with a code of its own (else the reason). */
export function deadLetterOf(
  record: RawRecord,
  reason: DeadLetterReason,
  stage: DeadLetter['stage'],
  message: string,
  code: string = reason,
): DeadLetter {
  return { record, reason, code, message, stage, redrivable: isRedrivable(reason) };
}

/**
 * What a pure stage's exception on one record becomes: rethrown when it says a retry can succeed (the
 * round fails and is retried), else that record's dead letter under the stage's `reason` — a retry of a
 * pure function on the same bytes would throw again, forever.
 */
export function deadLetterForThrown(
  record: RawRecord,
  err: unknown,
  reason: DeadLetterReason,
  stage: DeadLetter['stage'],
): DeadLetter {
  if (isRetriable(err)) throw err;
  const message = err instanceof NylasStreamError ? err.message : `${stage} threw ${thrownText(err)}`;
  return deadLetterOf(record, reason, stage, message, errorCodeOf(err));
}
