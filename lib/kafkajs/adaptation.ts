/**
 * What every run-time adaptation of kafkajs reports, and the one way they are installed.
 *
 * Each adaptation replaces a kafkajs internal that is not part of its typed API, so a kafkajs upgrade
 * (or a native binding that does not load) can leave it without anything to replace. It must then say
 * so instead of going quietly: kafkajs runs as published, which is correct but loses what the adaptation
 * was for (docs/decisions/0002-kafkajs-adaptations.md). The status is what start-up logs and exports.
 */
import { errorMessage } from '../errors';
import { installedKafkajsVersion, PINNED_KAFKAJS_VERSION } from './version';

export type AdaptationName =
  | 'coordinator-cache'
  | 'encoder-buffers'
  | 'produce-encoder'
  | 'native-crc32c'
  | 'key-hash-partitioner'
  | 'read-committed'
  | 'send-retry'
  | 'idle-request-queue';

export interface AdaptationStatus {
  readonly name: AdaptationName;
  readonly active: boolean;
  /** Why it is not active. */
  readonly reason?: string;
}

export function activeStatus(name: AdaptationName): AdaptationStatus {
  return { name, active: true };
}

export function inactiveStatus(name: AdaptationName, reason: string): AdaptationStatus {
  return { name, active: false, reason };
}

/** Statuses per patched object, so installing twice neither wraps a wrapper nor changes the answer. */
const installed = new WeakMap<object, Map<AdaptationName, AdaptationStatus>>();

export interface InstallSpec<T extends object> {
  name: AdaptationName;
  /** The kafkajs version to check against the pinned one (tests pass another). */
  kafkajsVersion: string | undefined;
  /** The kafkajs internal to change: its module (a require that may throw) or a test's stub. */
  load: () => unknown;
  /** Narrows what `load` gave to what `apply` changes; a failure is the reason it stays inactive. */
  check: (target: unknown) => target is T;
  /** Why `check` refused the target. */
  refused: string;
  apply: (target: T) => void;
}

/**
 * Installs one adaptation once per target. Inactive, with the reason, when kafkajs is not the pinned
 * version (another version's internals may look alike and behave differently), when the internal cannot
 * be loaded, or when it does not have the shape the adaptation was written against.
 */
export function installOnce<T extends object>(spec: InstallSpec<T>): AdaptationStatus {
  const version = spec.kafkajsVersion ?? installedKafkajsVersion();
  if (version !== PINNED_KAFKAJS_VERSION) {
    return inactiveStatus(spec.name, `kafkajs ${version} is not the pinned ${PINNED_KAFKAJS_VERSION}`);
  }
  let target: unknown;
  try {
    target = spec.load();
  } catch (err) {
    return inactiveStatus(spec.name, `cannot load the kafkajs internal: ${errorMessage(err)}`);
  }
  if (!spec.check(target)) return inactiveStatus(spec.name, spec.refused);
  let byName = installed.get(target);
  const known = byName?.get(spec.name);
  if (known) return known;
  let status: AdaptationStatus;
  try {
    spec.apply(target);
    status = activeStatus(spec.name);
  } catch (err) {
    status = inactiveStatus(spec.name, `installing failed: ${errorMessage(err)}`);
  }
  if (!byName) {
    byName = new Map();
    installed.set(target, byName);
  }
  byName.set(spec.name, status);
  return status;
}

/** The prototype of a kafkajs class as `require` gave it (undefined when it is not a class): what most
 * adaptations change. */
export function prototypeOf(value: unknown): unknown {
  return typeof value === 'function' ? value.prototype : undefined;
}

/** `value` is an object (or function) with a method called `key`. */
export function hasMethod<K extends string>(
  value: unknown,
  key: K,
): value is Record<K, (...args: never[]) => unknown> {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false;
  return typeof Reflect.get(value, key) === 'function';
}

/** Options of the adaptations that change kafkajs's Broker (read-committed, send-retry). */
export interface BrokerAdaptationOptions {
  /** kafkajs's Broker prototype, or a test's stand-in. */
  brokerPrototype?: unknown;
  kafkajsVersion?: string;
}

/**
 * Installs an adaptation that wraps methods of kafkajs's Broker prototype (or a test's stand-in): active
 * only when every one of `methods` is there.
 */
export function installBrokerAdaptation<T extends object>(spec: {
  name: AdaptationName;
  options: BrokerAdaptationOptions;
  methods: readonly string[];
  apply: (proto: T) => void;
}): AdaptationStatus {
  const { options, methods } = spec;
  return installOnce({
    name: spec.name,
    kafkajsVersion: options.kafkajsVersion,
    load: () => options.brokerPrototype ?? prototypeOf(require('kafkajs/src/broker')),
    check: (value: unknown): value is T => methods.every((m) => hasMethod(value, m)),
    refused: `kafkajs's Broker has no ${methods.map((m) => `${m}()`).join(' or ')}`,
    apply: spec.apply,
  });
}
