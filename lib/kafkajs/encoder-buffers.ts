/**
 * Gives kafkajs's protocol Encoder pooled, unzeroed buffers instead of a fresh zero-filled one per
 * encoder and per growth step.
 *
 * Why: kafkajs 2.2.4 builds every request from nested Encoders, and each starts with
 * `Buffer.alloc(512)` — a new zero-filled ArrayBuffer outside Node's buffer pool — then doubles with
 * another `Buffer.alloc` + copy whenever it fills. A record with five headers makes six such encoders.
 * In the processor's CPU profile (npm run bench -- --quick --only processor --processor-records 100000
 * --no-large-messages --profile processor) Buffer construction was a large share of the main thread's
 * self time, most of it under these two calls, beside garbage collection (figures in docs/benchmarks.md).
 * An expanded message of more than 1 MB is zero-filled again at each of the three nesting levels it is
 * copied through (record, record batch, request) before being overwritten.
 *
 * What: the encoder starts empty and grows with `Buffer.allocUnsafe` (sizes under 4 KiB come from the
 * shared pool). That is safe because Encoder only ever appends: every byte before `offset` has been
 * written, and the encoded result (`encoder.buffer`) is `buf.slice(0, offset)`, so bytes past `offset`
 * are never read. The encoded bytes are identical (test/unit/lib/kafkajs/encoder-buffers.test.ts
 * compares whole produce requests with and without this). Applied only to the pinned kafkajs version
 * (lib/kafkajs/version.ts).
 */
import { type AdaptationStatus, hasMethod, installOnce } from './adaptation';

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

function isEncoderClass(value: unknown): value is EncoderClass {
  return (
    typeof value === 'function' &&
    hasMethod(value, 'nextPowerOfTwo') &&
    hasMethod(value.prototype, 'ensureAvailable')
  );
}

function powerOfTwoAtLeast(n: number): number {
  return n <= FIRST_SIZE ? FIRST_SIZE : 2 ** Math.ceil(Math.log2(n));
}

export interface EncoderBuffersOptions {
  /** kafkajs's Encoder class, or a test's stand-in. */
  encoder?: unknown;
  kafkajsVersion?: string;
}

/** Installs the change (once per Encoder class) and says whether it is active. */
export function installEncoderBuffers(options: EncoderBuffersOptions = {}): AdaptationStatus {
  return installOnce({
    name: 'encoder-buffers',
    kafkajsVersion: options.kafkajsVersion,
    load: () => options.encoder ?? require('kafkajs/src/protocol/encoder'),
    check: isEncoderClass,
    refused: "kafkajs's Encoder has no nextPowerOfTwo() or ensureAvailable()",
    apply: (Encoder) => {
      // The constructor is `this.buf = Buffer.alloc(Encoder.nextPowerOfTwo(initialSize))`, and nothing
      // else calls nextPowerOfTwo (ensureAvailable, below, no longer does): answering 0 makes every new
      // encoder start with an empty buffer, allocated on its first write.
      Encoder.nextPowerOfTwo = () => 0;
      Encoder.prototype.ensureAvailable = function ensureAvailable(this: EncoderInstance, length: number) {
        const needed = this.offset + length;
        if (needed <= this.buf.length) return;
        const next = Buffer.allocUnsafe(powerOfTwoAtLeast(needed));
        this.buf.copy(next, 0, 0, this.offset);
        this.buf = next;
      };
    },
  });
}
