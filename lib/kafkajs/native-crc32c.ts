/**
 * CRC-32C for the Produce encoder (lib/kafkajs/produce-encoder.ts): @node-rs/crc32, a native binding
 * (SSE 4.2), when it loads, kafkajs's byte-at-a-time JavaScript one otherwise.
 *
 * Why it is an adaptation of its own: the binding is a prebuilt per-platform package, and one missing
 * on the deployment's platform (another libc, another CPU) does not fail anything, it only makes every
 * produced batch's checksum an order of magnitude slower. Its status says which one runs.
 */
import { errorMessage } from '../errors';
import { type AdaptationStatus, activeStatus, inactiveStatus } from './adaptation';

export interface Crc32c {
  crc32c: (b: Buffer) => number;
  native: boolean;
  /** Why the native one did not load. */
  reason?: string;
}

interface NativeCrc32 {
  crc32c(input: Buffer, initial?: number): number;
}

function isNativeCrc32(value: unknown): value is NativeCrc32 {
  return typeof value === 'object' && value !== null && typeof Reflect.get(value, 'crc32c') === 'function';
}

function isCrcFunction(value: unknown): value is (b: Buffer) => number {
  return typeof value === 'function';
}

let loaded: Crc32c | undefined;

/** The CRC-32C to use (loaded once per process). */
export function loadCrc32c(): Crc32c {
  loaded ??= load();
  return loaded;
}

function load(): Crc32c {
  let reason: string;
  try {
    const native: unknown = require('@node-rs/crc32');
    if (isNativeCrc32(native)) return { crc32c: (b) => native.crc32c(b) >>> 0, native: true };
    reason = '@node-rs/crc32 has no crc32c()';
  } catch (err) {
    reason = `@node-rs/crc32 did not load: ${errorMessage(err)}`;
  }
  const js: unknown = require('kafkajs/src/protocol/recordBatch/crc32C');
  if (!isCrcFunction(js)) throw new Error("kafkajs's crc32C module is not a function");
  return { crc32c: js, native: false, reason };
}

/** Whether the native CRC-32C is the one in use. */
export function installNativeCrc32c(crc: Crc32c = loadCrc32c()): AdaptationStatus {
  return crc.native
    ? activeStatus('native-crc32c')
    : inactiveStatus('native-crc32c', crc.reason ?? 'the native CRC-32C is not loaded');
}
