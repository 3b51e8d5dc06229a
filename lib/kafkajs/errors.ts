/**
 * kafkajs's errors, classified in one place: what the processor and the CLI ask of an error (was this
 * producer fenced? did the coordinator move? will a retry do?) is answered here, from kafkajs's own
 * fields, never by reading messages.
 *
 * kafkajs describes a broker's answer as a KafkaJSProtocolError with `type` (the Kafka error name, in
 * kafkajs's spelling: NOT_COORDINATOR_FOR_GROUP, not NOT_COORDINATOR) and `retriable` (from its table in
 * kafkajs/src/protocol/error.js), and a client-side failure as a KafkaJS* class. What failed is often
 * wrapped: the retrier's KafkaJSNumberOfRetriesExceeded has it as `cause` (kafkajs 1.x called it
 * `originalError`, still followed), and ours (RoundFailure, NylasStreamError) as `cause`. So every
 * question looks down the chain. Classes are recognised by `name`, not `instanceof`: a second copy of kafkajs in node_modules
 * (a dependency's) throws classes of its own.
 */
import { AnsweredElsewhereError } from './send-once';

/** How far down `cause`/`originalError` to look: deeper chains than ours + kafkajs's do not occur. */
const MAX_DEPTH = 8;

/** Protocol errors saying another producer with our transactional id has bumped the epoch. */
export const FENCING_TYPES: ReadonlySet<string> = new Set([
  'INVALID_PRODUCER_EPOCH',
  'PRODUCER_FENCED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
]);

/** Protocol errors saying the group or transaction coordinator moved, or is not ready yet. */
export const COORDINATOR_TYPES: ReadonlySet<string> = new Set([
  'GROUP_LOAD_IN_PROGRESS',
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'NOT_COORDINATOR_FOR_GROUP',
]);
export const COORDINATOR_NAMES: ReadonlySet<string> = new Set(['KafkaJSGroupCoordinatorNotFound']);

/** kafkajs errors that say the connection or the broker is at fault, whatever their retriable flag. */
export const BROKER_AWAY_NAMES: ReadonlySet<string> = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSLockTimeout',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSStaleTopicMetadataAssignment',
]);

/** The fields of a kafkajs error this module reads (besides a protocol error's `type`). */
interface KafkajsErrorFields {
  name: string;
  retriable: boolean | undefined;
}

function field(value: object, key: string): unknown {
  return Reflect.get(value, key);
}

/** The error and what it wraps (`originalError`, else `cause`), outermost first. */
export function errorChain(err: unknown): object[] {
  const chain: object[] = [];
  let e: unknown = err;
  while (chain.length < MAX_DEPTH && typeof e === 'object' && e !== null) {
    chain.push(e);
    e = field(e, 'originalError') ?? field(e, 'cause');
  }
  return chain;
}

/** A kafkajs error's fields; undefined for anything else. */
function kafkajsFields(e: object): KafkajsErrorFields | undefined {
  const name = field(e, 'name');
  if (typeof name !== 'string' || !name.startsWith('KafkaJS')) return undefined;
  const retriable = field(e, 'retriable');
  return { name, retriable: typeof retriable === 'boolean' ? retriable : undefined };
}

function protocolType(e: object): string | undefined {
  const type = field(e, 'type');
  return typeof type === 'string' ? type : undefined;
}

export interface KafkajsErrorClass {
  /** Another owner of the transactional id fenced this producer: its transaction cannot go on. */
  fencing: boolean;
  /** The coordinator moved or is loading: kafkajs looks it up again and retries. */
  coordinator: boolean;
  /** The broker or the connection is away, or kafkajs itself would retry: the same work may succeed later. */
  transient: boolean;
  /** Some error in the chain is kafkajs's. */
  kafkajs: boolean;
}

/**
 * One error classified. Fencing is recognised by the protocol error type wherever it is in the chain
 * (whoever wrapped it); transient means some kafkajs error of the chain is retriable or says the broker
 * is away (a client that ran out of retries against a broker that is down gives a non-retriable wrapper
 * around retriable causes).
 */
export function classifyKafkajsError(err: unknown): KafkajsErrorClass {
  const found: KafkajsErrorClass = { fencing: false, coordinator: false, transient: false, kafkajs: false };
  for (const e of errorChain(err)) {
    const type = protocolType(e);
    if (type !== undefined && FENCING_TYPES.has(type)) found.fencing = true;
    if (type !== undefined && COORDINATOR_TYPES.has(type)) found.coordinator = true;
    // Ours, failing a kafkajs send (send-once.ts): a leader moved during the send; the work is done again.
    if (e instanceof AnsweredElsewhereError) {
      found.kafkajs = true;
      found.transient = true;
    }
    const k = kafkajsFields(e);
    if (!k) continue;
    found.kafkajs = true;
    if (COORDINATOR_NAMES.has(k.name)) found.coordinator = true;
    if (k.retriable === true || BROKER_AWAY_NAMES.has(k.name)) found.transient = true;
  }
  return found;
}

/** True when the error (or what it wraps) says another owner fenced this producer. */
export function isFencingError(err: unknown): boolean {
  return classifyKafkajsError(err).fencing;
}

/** True when the error (or what it wraps) says the coordinator moved or is not available yet. */
export function isCoordinatorError(err: unknown): boolean {
  return classifyKafkajsError(err).coordinator;
}

/** True when a kafkajs error in the chain says a retry may succeed (or the broker is away). */
export function isTransientKafkajsError(err: unknown): boolean {
  return classifyKafkajsError(err).transient;
}

/** True when the error itself is the broker's answer `type` (e.g. TOPIC_ALREADY_EXISTS). */
export function isProtocolError(err: unknown, type: string): boolean {
  return typeof err === 'object' && err !== null && protocolType(err) === type;
}
