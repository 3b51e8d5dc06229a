/**
 * The one error hierarchy of nylas-stream, and the one table of its failure codes.
 *
 * Every error we raise on purpose carries a stable `code` (part of the public contract: it is
 * logged, put in DLQ headers and counted in metrics) and a `retriable` flag. Callers decide
 * between "retry" and "dead-letter / reject" by the flag, never by parsing messages. What each code
 * means — retriable or not, the HTTP status the ingress answers, whether the processor dead-letters
 * under it and whether such a dead letter can be re-driven — is FAILURE_CODES, and every mapping
 * (ingress/status.ts, DEAD_LETTER_REASONS, the processor's dead letters, docs/failure-codes.md) reads it.
 */

export const ErrorCodes = {
  CONFIG_INVALID: 'CONFIG_INVALID',
  INFRA_MISSING_TOOL: 'INFRA_MISSING_TOOL',
  INFRA_START_FAILED: 'INFRA_START_FAILED',
  SIGNATURE_MISSING: 'SIGNATURE_MISSING',
  SIGNATURE_INVALID: 'SIGNATURE_INVALID',
  BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  MALFORMED_JSON: 'MALFORMED_JSON',
  MALFORMED_ENVELOPE: 'MALFORMED_ENVELOPE',
  UNKNOWN_DESTINATION: 'UNKNOWN_DESTINATION',
  SOURCE_NOT_ALLOWED: 'SOURCE_NOT_ALLOWED',
  KAFKA_UNAVAILABLE: 'KAFKA_UNAVAILABLE',
  ACK_TIMEOUT: 'ACK_TIMEOUT',
  OVERLOADED: 'OVERLOADED',
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  BODY_DEADLINE_EXCEEDED: 'BODY_DEADLINE_EXCEEDED',
  UNVERIFIED_BUDGET_FULL: 'UNVERIFIED_BUDGET_FULL',
  REQUEST_ABORTED: 'REQUEST_ABORTED',
  REGISTRY_UNAVAILABLE: 'REGISTRY_UNAVAILABLE',
  NYLAS_API_RATE_LIMITED: 'NYLAS_API_RATE_LIMITED',
  NYLAS_API_UNAVAILABLE: 'NYLAS_API_UNAVAILABLE',
  NYLAS_API_UNAUTHORIZED: 'NYLAS_API_UNAUTHORIZED',
  NYLAS_API_NOT_FOUND: 'NYLAS_API_NOT_FOUND',
  NYLAS_API_DEADLINE: 'NYLAS_API_DEADLINE',
  NYLAS_API_REJECTED: 'NYLAS_API_REJECTED',
  SCHEMA_ENCODE_FAILED: 'SCHEMA_ENCODE_FAILED',
  NORMALIZE_FAILED: 'NORMALIZE_FAILED',
  POISON_ISOLATED: 'POISON_ISOLATED',
  DECOMPRESS_FAILED: 'DECOMPRESS_FAILED',
  DECODE_FAILED: 'DECODE_FAILED',
  ID_TOO_LONG: 'ID_TOO_LONG',
  TOO_DEEPLY_NESTED: 'TOO_DEEPLY_NESTED',
  EVENT_TOO_LARGE: 'EVENT_TOO_LARGE',
  BEYOND_WINDOW: 'BEYOND_WINDOW',
  SCHEMA_INVALID: 'SCHEMA_INVALID',
  SCHEMA_INCOMPATIBLE: 'SCHEMA_INCOMPATIBLE',
  STATE_RESTORE_FAILED: 'STATE_RESTORE_FAILED',
  TAKEOVER_TIMEOUT: 'TAKEOVER_TIMEOUT',
  INTERNAL: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface FailureCode {
  /** Whether trying the same work again can succeed: the ingress answers a status Nylas retries, the
   * processor fails the round and retries it. The default of a NylasStreamError with this code; one
   * error may say otherwise (SOURCE_NOT_ALLOWED while Nylas's address list is not loaded yet). */
  readonly retriable: boolean;
  /** The status the ingress answers with it. `null`: the ingress raises it but nobody is left to
   * answer. Absent: the ingress never answers it (an unexpected one answers 503). */
  readonly http?: number | null;
  /** Present when the processor dead-letters a record under this code as its `dlq-reason`; whether
   * re-driving it after a fix can succeed (the `dlq-redrivable` header). */
  readonly deadLetter?: { readonly redrivable: boolean };
  /** What it says to an operator, and what to do about it (docs/failure-codes.md). */
  readonly meaning: string;
}

const NEVER_REDRIVABLE = { redrivable: false } as const;
const REDRIVABLE = { redrivable: true } as const;

/** Every code, once. `satisfies` makes a code without an entry (or an entry without a code) a compile
 * error; test/unit/lib/failure-codes.test.ts checks the rules between the columns. */
export const FAILURE_CODES = {
  CONFIG_INVALID: {
    retriable: false,
    meaning: 'A configuration variable is missing or out of range; the message names it. Fix it and restart.',
  },
  INFRA_MISSING_TOOL: {
    retriable: false,
    meaning: 'A tool the local runtime needs (java, mvn) is missing or too old.',
  },
  INFRA_START_FAILED: {
    retriable: false,
    meaning:
      'The local runtime or a service could not start (a download, a port, a broker); the message says which.',
  },
  SIGNATURE_MISSING: {
    retriable: false,
    http: 401,
    meaning:
      'The delivery has no X-Nylas-Signature (Nylas always signs): a stranger, or a proxy dropping the header.',
  },
  SIGNATURE_INVALID: {
    retriable: false,
    http: 401,
    meaning:
      "The signature matches none of the destination's secrets: a stranger, or a rotated secret not installed yet.",
  },
  BODY_TOO_LARGE: {
    retriable: false,
    http: 413,
    meaning: 'The body, or a gzip body once inflated, is larger than INGRESS_MAX_BODY_BYTES.',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    retriable: false,
    http: 415,
    meaning: 'Content-Type is not JSON, or Content-Encoding is neither identity nor gzip.',
  },
  MALFORMED_JSON: {
    retriable: false,
    http: 400,
    deadLetter: NEVER_REDRIVABLE,
    meaning:
      'The body is not JSON (or says gzip and is not). The ingress refuses it; a record that reaches the ' +
      'processor so is dead-lettered for good: its bytes cannot change.',
  },
  MALFORMED_ENVELOPE: {
    retriable: false,
    http: 400,
    deadLetter: NEVER_REDRIVABLE,
    meaning:
      'The body is JSON but not a Nylas envelope: not an object, a required field missing, a `time` outside ' +
      '0…year 9999.',
  },
  UNKNOWN_DESTINATION: {
    retriable: true,
    http: 503,
    meaning:
      'No webhook secret is configured for the destination in the path (perhaps not yet: Nylas creates it ' +
      'after the challenge); Nylas retries.',
  },
  SOURCE_NOT_ALLOWED: {
    retriable: false,
    http: 403,
    meaning:
      "The client address is not in INGRESS_SOURCE_ALLOWLIST / Nylas's address list; while that list is not " +
      'loaded yet, a 503 with the same code.',
  },
  KAFKA_UNAVAILABLE: {
    retriable: true,
    http: 503,
    meaning: 'Kafka did not take the write; Nylas retries. Look at the brokers and the ingress producer log.',
  },
  ACK_TIMEOUT: {
    retriable: true,
    http: 503,
    meaning:
      'Kafka did not acknowledge within INGRESS_ACK_TIMEOUT_MS; Nylas retries (dedupe drops a copy that did land).',
  },
  OVERLOADED: {
    retriable: true,
    http: 503,
    meaning: 'Too many requests or bytes wait for Kafka (INGRESS_MAX_IN_FLIGHT*); Nylas retries.',
  },
  SHUTTING_DOWN: {
    retriable: true,
    http: 503,
    meaning: 'The ingress is stopping; Nylas retries.',
  },
  BODY_DEADLINE_EXCEEDED: {
    retriable: true,
    http: 408,
    meaning:
      'The body did not arrive within INGRESS_BODY_DEADLINE_MS: a stalled or trickling sender (Nylas sends the ' +
      'whole body at once). 408, which Nylas retries.',
  },
  UNVERIFIED_BUDGET_FULL: {
    retriable: true,
    http: 503,
    meaning: 'Bodies not yet verified hold INGRESS_UNVERIFIED_MAX_BYTES; the oldest was cut for a newcomer.',
  },
  REQUEST_ABORTED: {
    retriable: true,
    http: null,
    meaning: 'The sender went away before its body arrived; nothing is answered, nothing written.',
  },
  REGISTRY_UNAVAILABLE: {
    retriable: true,
    meaning:
      'The schema registry did not answer, or answered 5xx (a 4xx is not retriable); start-up and the schema ' +
      'commands retry or stop.',
  },
  NYLAS_API_RATE_LIMITED: {
    retriable: true,
    meaning:
      'Not raised: the expander retries a 429 within EXPANSION_DEADLINE, then dead-letters NYLAS_API_DEADLINE.',
  },
  NYLAS_API_UNAVAILABLE: {
    retriable: true,
    meaning:
      'Not raised: the expander retries 5xx and connection failures within EXPANSION_DEADLINE, then ' +
      'dead-letters NYLAS_API_DEADLINE.',
  },
  NYLAS_API_UNAUTHORIZED: {
    retriable: false,
    deadLetter: REDRIVABLE,
    meaning:
      'The API refused to re-fetch a truncated message with 401: the grant needs re-authentication; redrive ' +
      'after it.',
  },
  NYLAS_API_NOT_FOUND: {
    retriable: false,
    meaning: 'Not raised: a message the API no longer has (404) is emitted as deleted.',
  },
  NYLAS_API_DEADLINE: {
    retriable: false,
    deadLetter: REDRIVABLE,
    meaning:
      'Re-fetching a truncated message did not succeed within EXPANSION_DEADLINE (429, 5xx, timeouts); redrive ' +
      'when the API is healthy.',
  },
  NYLAS_API_REJECTED: {
    retriable: false,
    deadLetter: REDRIVABLE,
    meaning: 'The API refused the re-fetch with a 4xx other than 401/404/408/429 (400, 403, …).',
  },
  SCHEMA_ENCODE_FAILED: {
    retriable: false,
    deadLetter: REDRIVABLE,
    meaning:
      'The domain value did not encode against its schema, or encoding threw (a mapping bug, a topic without ' +
      'a registered schema id); redrive after the fix.',
  },
  NORMALIZE_FAILED: {
    retriable: false,
    deadLetter: REDRIVABLE,
    meaning:
      'normalize could not map the payload (no object on a create/update, no object id, …), or threw on it; ' +
      'redrive after the fix.',
  },
  POISON_ISOLATED: {
    retriable: false,
    deadLetter: REDRIVABLE,
    meaning:
      'Rounds holding this record kept failing for a reason no stage could name, and it failed alone ' +
      '(processors/poison/); the processor log has the error. Redrive once the cause is fixed.',
  },
  DECOMPRESS_FAILED: {
    retriable: false,
    deadLetter: NEVER_REDRIVABLE,
    meaning:
      'The raw record cannot be read: an empty value, gzip that does not inflate, or a content-encoding ' +
      'other than gzip.',
  },
  DECODE_FAILED: {
    retriable: false,
    deadLetter: REDRIVABLE,
    meaning: 'decode threw on the record (a bug meeting an odd body); redrive once it is fixed.',
  },
  ID_TOO_LONG: {
    retriable: false,
    deadLetter: NEVER_REDRIVABLE,
    meaning:
      'An id (notification, type, application, grant, object) longer than 4096 characters: only an accident ' +
      'or an attack.',
  },
  TOO_DEEPLY_NESTED: {
    retriable: false,
    deadLetter: NEVER_REDRIVABLE,
    meaning:
      'The JSON nests deeper than 128 levels, which no real notification does (stages walk it recursively).',
  },
  EVENT_TOO_LARGE: {
    retriable: false,
    deadLetter: REDRIVABLE,
    meaning:
      'The domain event, even without its message body, is larger than the domain topic accepts; redrive after ' +
      "raising the topic's max.message.bytes and TOPIC_MAX_MESSAGE_BYTES.",
  },
  BEYOND_WINDOW: {
    retriable: false,
    deadLetter: REDRIVABLE,
    meaning:
      "The envelope time lies outside ACCEPT_WINDOW, where the processor's state can no longer vouch for order " +
      'and dedupe; redrive with `nylas-stream redrive --beyond-window`.',
  },
  SCHEMA_INVALID: {
    retriable: false,
    meaning:
      'A schemas/*.avsc file is not valid Avro, a schema name is unknown, or a domain topic has no registered ' +
      'schema id (a start-up bug; its events are dead-lettered as SCHEMA_ENCODE_FAILED).',
  },
  SCHEMA_INCOMPATIBLE: {
    retriable: false,
    meaning: 'A domain schema is not BACKWARD_TRANSITIVE compatible with what the registry holds.',
  },
  STATE_RESTORE_FAILED: {
    retriable: true,
    meaning: "Restoring a partition's state from its changelog failed; the takeover is retried.",
  },
  TAKEOVER_TIMEOUT: {
    retriable: true,
    meaning: 'A step of a partition takeover (fence, offsets, restore) did not finish in time; retried.',
  },
  INTERNAL: {
    retriable: false,
    http: 503,
    meaning:
      'An error that is not ours (a bug, an unforeseen library error). The ingress answers 503, never a 500 ' +
      "(Nylas would drop the notification); in the processor it is the dlq-error-code under the stage's " +
      'reason (DECODE_FAILED, NORMALIZE_FAILED, SCHEMA_ENCODE_FAILED), never a dlq-reason itself.',
  },
} as const satisfies Record<ErrorCode, FailureCode>;

/** The codes a record can be dead-lettered under (the `dlq-reason` header, the metric's `reason`). */
export type DeadLetterReason = {
  [K in ErrorCode]: (typeof FAILURE_CODES)[K] extends { deadLetter: object } ? K : never;
}[ErrorCode];

const SPEC_OF: ReadonlyMap<string, FailureCode> = new Map(Object.entries(FAILURE_CODES));

function isDeadLetterReason(code: string): code is DeadLetterReason {
  return SPEC_OF.get(code)?.deadLetter !== undefined;
}

/** Why a record went to the DLQ: stable codes (metrics label, DLQ header, redrive filter). */
export const DEAD_LETTER_REASONS: readonly DeadLetterReason[] =
  Object.keys(FAILURE_CODES).filter(isDeadLetterReason);

/** Whether a record dead-lettered under `reason` can succeed when re-driven after a fix. */
export function isRedrivable(reason: DeadLetterReason): boolean {
  return FAILURE_CODES[reason].deadLetter.redrivable;
}

/** The status the ingress answers for `code` raised as `retriable` (undefined: none of its own). A
 * refusal raised as transient answers no refusal status: it falls back to 503, which Nylas retries. */
export function httpStatusOf(code: ErrorCode, retriable: boolean): number | undefined {
  const spec: FailureCode = FAILURE_CODES[code];
  if (retriable && !spec.retriable) return undefined;
  return spec.http ?? undefined;
}

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
    this.retriable = options.retriable ?? FAILURE_CODES[code].retriable;
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

export function errorCodeOf(err: unknown): ErrorCode {
  return err instanceof NylasStreamError ? err.code : 'INTERNAL';
}

/** "name: message" of anything thrown (for a dead letter's message; a thrown non-Error has neither). */
/** An error's message, also for errors of another realm (a vm context, jest's module registry). */
export function errorMessage(err: unknown): string {
  const message = typeof err === 'object' && err !== null ? Reflect.get(err, 'message') : undefined;
  return typeof message === 'string' ? message : String(err);
}

export function thrownText(err: unknown): string {
  if (typeof err !== 'object' || err === null) return 'undefined: undefined';
  return `${Reflect.get(err, 'name')}: ${Reflect.get(err, 'message')}`;
}
