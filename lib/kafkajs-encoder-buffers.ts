/**
 * Gives kafkajs's protocol Encoder pooled, unzeroed buffers instead of a fresh zero-filled one per
 * encoder and per growth step.
 *
 * Why: kafkajs 2.2.4 builds every request from nested Encoders, and each starts with
 * `Buffer.alloc(512)` — a new zero-filled ArrayBuffer outside Node's buffer pool — then doubles with
 * another `Buffer.alloc` + copy whenever it fills. A record with five headers makes six such encoders.
 * In the processor's CPU profile (npm run bench -- --profile processor) those allocations were ~11 % of
 * the main thread (Buffer construction) plus much of the 17 % spent in garbage collection; a 1.3 MB
 * expanded message also went through a dozen zero-filled doublings at each of three nesting levels.
 *
 * What: the encoder starts empty and grows with `Buffer.allocUnsafe` (sizes under 4 KiB come from the
 * shared pool). That is safe because Encoder only ever appends: every byte before `offset` has been
 * written, and the encoded result (`encoder.buffer`) is `buf.slice(0, offset)`, so bytes past `offset`
 * are never read. The encoded bytes are identical (test/unit/lib/kafkajs-encoder-buffers.test.ts
 * compares whole produce requests with and without this). Applied only to the kafkajs version it was
 * written against (package.json pins it); any other version is left untouched.
 */

const PATCHED_VERSION = '2.2.4';
/** First allocation of an encoder: most encoders (a header, a small record) fit. */
const FIRST_SIZE = 256;

interface EncoderClass {
  nextPowerOfTwo(value: number): number;
  prototype: { ensureAvailable(this: EncoderInstance, length: number): void };
}

interface EncoderInstance {
  buf: Buffer;
  offset: number;
}

function powerOfTwoAtLeast(n: number): number {
  return n <= FIRST_SIZE ? FIRST_SIZE : 2 ** Math.ceil(Math.log2(n));
}

let installed: boolean | undefined;

/** Installs the change once per process; returns whether it is active (false on another kafkajs version). */
export function installEncoderBuffers(): boolean {
  if (installed !== undefined) return installed;
  const version = (require('kafkajs/package.json') as { version: string }).version;
  const Encoder = require('kafkajs/src/protocol/encoder') as EncoderClass;
  if (
    version !== PATCHED_VERSION ||
    typeof Encoder.nextPowerOfTwo !== 'function' ||
    typeof Encoder.prototype.ensureAvailable !== 'function'
  ) {
    installed = false;
    return installed;
  }
  // The constructor is `this.buf = Buffer.alloc(Encoder.nextPowerOfTwo(initialSize))`, and nothing else
  // calls nextPowerOfTwo (ensureAvailable, below, no longer does): answering 0 makes every new encoder
  // start with an empty buffer, allocated on its first write.
  Encoder.nextPowerOfTwo = () => 0;
  Encoder.prototype.ensureAvailable = function ensureAvailable(this: EncoderInstance, length: number) {
    const needed = this.offset + length;
    if (needed <= this.buf.length) return;
    const next = Buffer.allocUnsafe(powerOfTwoAtLeast(needed));
    this.buf.copy(next, 0, 0, this.offset);
    this.buf = next;
  };
  installed = true;
  return installed;
}
