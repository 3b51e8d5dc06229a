/**
 * The one classification of kafkajs errors, on kafkajs's real classes and on protocol errors built by
 * kafkajs's own table from broker error codes, bare and wrapped the ways kafkajs and we wrap them.
 */
import {
  KafkaJSConnectionError,
  KafkaJSGroupCoordinatorNotFound,
  KafkaJSLockTimeout,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSRequestTimeoutError,
} from 'kafkajs';
import { NylasStreamError } from '../../../../lib/errors';
import {
  BROKER_AWAY_NAMES,
  COORDINATOR_NAMES,
  COORDINATOR_TYPES,
  classifyKafkajsError,
  errorChain,
  FENCING_TYPES,
  isCoordinatorError,
  isFencingError,
  isProtocolError,
  isTransientKafkajsError,
} from '../../../../lib/kafkajs/errors';

interface ErrorCodeEntry {
  type: string;
  code: number;
}

function isEntry(value: unknown): value is ErrorCodeEntry {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof Reflect.get(value, 'type') === 'string' &&
    typeof Reflect.get(value, 'code') === 'number'
  );
}

const protocol: unknown = require('kafkajs/src/protocol/error');
const table: unknown =
  typeof protocol === 'object' && protocol !== null ? Reflect.get(protocol, 'errorCodes') : [];
const KAFKAJS_CODES: ErrorCodeEntry[] = Array.isArray(table) ? table.filter(isEntry) : [];

/** What kafkajs throws for a broker's answer with error `type`. */
function brokerError(type: string): Error {
  const entry = KAFKAJS_CODES.find((e) => e.type === type);
  if (!entry) throw new Error(`kafkajs has no error ${type}`);
  const create: unknown =
    typeof protocol === 'object' && protocol !== null
      ? Reflect.get(protocol, 'createErrorFromCode')
      : undefined;
  if (typeof create !== 'function') throw new Error('kafkajs has no createErrorFromCode');
  const err: unknown = create(entry.code);
  if (!(err instanceof Error)) throw new Error(`createErrorFromCode(${entry.code}) gave no error`);
  return err;
}

/** kafkajs's retrier gives up with this around the last failure. */
const retriesExceeded = (e: Error) =>
  new KafkaJSNumberOfRetriesExceeded(e, { retryCount: 5, retryTime: 2000 });
/** kafkajs 1.x's retrier kept what failed as originalError. */
const legacyWrapped = (e: Error) => Object.assign(new KafkaJSProtocolError('gave up'), { originalError: e });
/** Ours wrap with `cause`. */
const ours = (e: Error) => new NylasStreamError('KAFKA_UNAVAILABLE', 'round failed', { cause: e });

describe('kafkajs error classification', () => {
  it('knows fencing by its protocol error type, bare or wrapped by kafkajs or by us', () => {
    for (const type of ['INVALID_PRODUCER_EPOCH', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED']) {
      const e = brokerError(type);
      for (const err of [e, retriesExceeded(e), legacyWrapped(e), ours(retriesExceeded(e))]) {
        expect([type, isFencingError(err)]).toEqual([type, true]);
      }
    }
    for (const other of [brokerError('CONCURRENT_TRANSACTIONS'), new Error('INVALID_PRODUCER_EPOCH')]) {
      expect(isFencingError(other)).toBe(false);
    }
  });

  it('knows a coordinator that moved or is loading, and that kafkajs retries it', () => {
    for (const type of [
      'NOT_COORDINATOR_FOR_GROUP',
      'GROUP_COORDINATOR_NOT_AVAILABLE',
      'GROUP_LOAD_IN_PROGRESS',
    ]) {
      expect([type, classifyKafkajsError(brokerError(type))]).toEqual([
        type,
        { fencing: false, coordinator: true, transient: true, kafkajs: true },
      ]);
    }
    const notFound: unknown = Reflect.construct(KafkaJSGroupCoordinatorNotFound, ['no coordinator']);
    expect(isCoordinatorError(notFound)).toBe(true);
    expect(isCoordinatorError(brokerError('MESSAGE_TOO_LARGE'))).toBe(false);
  });

  it('calls transient what kafkajs would retry or what says the broker is away, even once retries ran out', () => {
    const away = [
      new KafkaJSConnectionError('Connection error: ECONNREFUSED'),
      new KafkaJSRequestTimeoutError('Request Produce timed out'),
      brokerError('CONCURRENT_TRANSACTIONS'),
      // Not retriable by kafkajs's flag, but the broker (or the connection) is what failed.
      Reflect.construct(KafkaJSLockTimeout, ['Timeout while acquiring lock (1 waiting locks)']),
    ];
    for (const e of away) {
      expect([
        e.message,
        isTransientKafkajsError(e),
        isTransientKafkajsError(ours(retriesExceeded(e))),
      ]).toEqual([e.message, true, true]);
    }
    // A non-retriable kafkajs error around a non-retriable answer, and what is not kafkajs's at all.
    expect(isTransientKafkajsError(retriesExceeded(brokerError('MESSAGE_TOO_LARGE')))).toBe(false);
    expect(classifyKafkajsError(new Error('bug'))).toEqual({
      fencing: false,
      coordinator: false,
      transient: false,
      kafkajs: false,
    });
  });

  it('tells a broker answer by its type only on the error itself', () => {
    const exists = brokerError('TOPIC_ALREADY_EXISTS');
    expect(isProtocolError(exists, 'TOPIC_ALREADY_EXISTS')).toBe(true);
    expect(isProtocolError(brokerError('INVALID_PARTITIONS'), 'TOPIC_ALREADY_EXISTS')).toBe(false);
    expect(isProtocolError(undefined, 'TOPIC_ALREADY_EXISTS')).toBe(false);
  });

  it('stops at a bounded depth, also on a cycle', () => {
    const a: Error & { cause?: unknown } = new Error('a');
    a.cause = a;
    expect(errorChain(a).length).toBeLessThanOrEqual(8);
    expect(isFencingError(a)).toBe(false);
  });

  it('names only types and classes the pinned kafkajs has (PRODUCER_FENCED is newer than its table)', () => {
    const types = new Set(KAFKAJS_CODES.map((e) => e.type));
    const missingTypes = [...FENCING_TYPES, ...COORDINATOR_TYPES].filter(
      (t) => !types.has(t) && t !== 'PRODUCER_FENCED',
    );
    const kafkajs: unknown = require('kafkajs');
    const missingClasses = [...BROKER_AWAY_NAMES, ...COORDINATOR_NAMES].filter(
      (name) =>
        typeof kafkajs !== 'object' || kafkajs === null || typeof Reflect.get(kafkajs, name) !== 'function',
    );
    expect([missingTypes, missingClasses]).toEqual([[], []]);
  });
});
