/**
 * The one error hierarchy of nylas-stream.
 *
 * Every error we raise on purpose carries a stable `code` (part of the public contract: it is
 * logged, put in DLQ headers and counted in metrics) and a `retriable` flag. Callers decide
 * between "retry" and "dead-letter / reject" by the flag, never by parsing messages. The HTTP
 * layer maps codes to status codes in exactly one place (ingress/status.ts).
 */

export const ErrorCodes = {
  // configuration and start-up
  CONFIG_INVALID: 'CONFIG_INVALID',
  INFRA_MISSING_TOOL: 'INFRA_MISSING_TOOL',
  INFRA_START_FAILED: 'INFRA_START_FAILED',
  // ingress: bad input (not retriable: Nylas must not retry, we record and answer 4xx)
  SIGNATURE_MISSING: 'SIGNATURE_MISSING',
  SIGNATURE_INVALID: 'SIGNATURE_INVALID',
  BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  MALFORMED_JSON: 'MALFORMED_JSON',
  MALFORMED_ENVELOPE: 'MALFORMED_ENVELOPE',
  UNKNOWN_DESTINATION: 'UNKNOWN_DESTINATION',
  /** The client address is not in INGRESS_SOURCE_ALLOWLIST / Nylas's list (403); while that list has
   * not been loaded yet, a transient 503 with the same code. */
  SOURCE_NOT_ALLOWED: 'SOURCE_NOT_ALLOWED',
  // transient faults (retriable: ingress answers 503, processors retry)
  KAFKA_UNAVAILABLE: 'KAFKA_UNAVAILABLE',
  ACK_TIMEOUT: 'ACK_TIMEOUT',
  OVERLOADED: 'OVERLOADED',
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  /** The body did not fully arrive within INGRESS_BODY_DEADLINE_MS (408: Nylas retries; it sends the
   * whole body at once, so only a stalled or trickling sender meets this). */
  BODY_DEADLINE_EXCEEDED: 'BODY_DEADLINE_EXCEEDED',
  /** Bodies not yet verified hold INGRESS_UNVERIFIED_MAX_BYTES; the oldest is cut for a newcomer (503). */
  UNVERIFIED_BUDGET_FULL: 'UNVERIFIED_BUDGET_FULL',
  /** The sender went away before its body arrived; nothing to answer, nothing written. */
  REQUEST_ABORTED: 'REQUEST_ABORTED',
  REGISTRY_UNAVAILABLE: 'REGISTRY_UNAVAILABLE',
  // expansion through the Nylas API
  NYLAS_API_RATE_LIMITED: 'NYLAS_API_RATE_LIMITED',
  NYLAS_API_UNAVAILABLE: 'NYLAS_API_UNAVAILABLE',
  NYLAS_API_UNAUTHORIZED: 'NYLAS_API_UNAUTHORIZED',
  NYLAS_API_NOT_FOUND: 'NYLAS_API_NOT_FOUND',
  NYLAS_API_DEADLINE: 'NYLAS_API_DEADLINE',
  /** The API refused the call with a 4xx that retrying cannot fix (400, 403, …); the processor dead-letters. */
  NYLAS_API_REJECTED: 'NYLAS_API_REJECTED',
  // processing: each is a dead letter (never retried: the stages are pure, a retry fails the same way);
  // `dlq-redrivable` says whether a redrive can succeed after a fix (README, "DLQ record")
  /** The domain value did not encode against its schema: re-drivable after a mapping or schema fix. */
  SCHEMA_ENCODE_FAILED: 'SCHEMA_ENCODE_FAILED',
  /** The payload cannot describe the change, or normalize threw on it: re-drivable after a fix. */
  NORMALIZE_FAILED: 'NORMALIZE_FAILED',
  /** A record isolated by bisecting rounds that kept failing (processors/poison/); re-drivable. */
  POISON_ISOLATED: 'POISON_ISOLATED',
  /** decode threw on a body (a bug): re-drivable after a fix. */
  DECODE_FAILED: 'DECODE_FAILED',
  /** An id longer than any real one (processors/stages/decode.ts MAX_ID_CHARS): never re-drivable. */
  ID_TOO_LONG: 'ID_TOO_LONG',
  /** JSON nested deeper than any real notification (MAX_JSON_DEPTH): never re-drivable. */
  TOO_DEEPLY_NESTED: 'TOO_DEEPLY_NESTED',
  /** A domain event larger than the domain topic accepts, even without its body: re-drivable after
   * raising the topic's max.message.bytes and TOPIC_MAX_MESSAGE_BYTES. */
  EVENT_TOO_LARGE: 'EVENT_TOO_LARGE',
  /** The notification's envelope time (or redrive override) lies outside what the processor's state can
   * still vouch for (processors/stages/window.ts): dead-lettered, re-drivable with `redrive --beyond-window`. */
  BEYOND_WINDOW: 'BEYOND_WINDOW',
  // schemas/ (the Avro contract)
  SCHEMA_INVALID: 'SCHEMA_INVALID',
  SCHEMA_INCOMPATIBLE: 'SCHEMA_INCOMPATIBLE',
  STATE_RESTORE_FAILED: 'STATE_RESTORE_FAILED',
  /** A step of a partition takeover (fence, offsets, restore) did not finish in time; retried. */
  TAKEOVER_TIMEOUT: 'TAKEOVER_TIMEOUT',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface NylasStreamErrorOptions {
  retriable?: boolean;
  cause?: unknown;
  /** Extra, non-secret facts for logs and DLQ headers (field path, status code, …). */
  details?: Record<string, string | number | boolean | undefined>;
}

export class NylasStreamError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: Record<string, string | number | boolean | undefined>;

  constructor(code: ErrorCode, message: string, options: NylasStreamErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.details = options.details ?? {};
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      retriable: this.retriable,
      ...this.details,
    };
  }
}

/** A bad or missing configuration value; the message names the variable and a remedy. */
export class ConfigError extends NylasStreamError {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(ErrorCodes.CONFIG_INVALID, `${variable}: ${message}`, { details: { variable } });
  }
}

/** A tool the local runtime needs (java, mvn) is missing or too old. */
export class MissingToolError extends NylasStreamError {
  constructor(tool: string, remedy: string) {
    super(ErrorCodes.INFRA_MISSING_TOOL, `${tool} is required but was not found. ${remedy}`, {
      details: { tool },
    });
  }
}

/** Input that will never become valid by retrying it: reject (ingress) or dead-letter (processor). */
export class BadInputError extends NylasStreamError {
  constructor(code: ErrorCode, message: string, options: Omit<NylasStreamErrorOptions, 'retriable'> = {}) {
    super(code, message, { ...options, retriable: false });
  }
}

/** A fault that goes away on its own: answer 503 / retry with backoff. */
export class TransientError extends NylasStreamError {
  constructor(code: ErrorCode, message: string, options: Omit<NylasStreamErrorOptions, 'retriable'> = {}) {
    super(code, message, { ...options, retriable: true });
  }
}

/** True when `err` is one of ours and says a retry may succeed. Unknown errors are treated as retriable
 * by the processor (a bug must not silently dead-letter good data) but never by the ingress mapping. */
export function isRetriable(err: unknown): boolean {
  return err instanceof NylasStreamError ? err.retriable : false;
}

export function errorCodeOf(err: unknown): string {
  return err instanceof NylasStreamError ? err.code : 'INTERNAL';
}
