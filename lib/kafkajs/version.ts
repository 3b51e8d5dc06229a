/**
 * The kafkajs version the run-time adjustments (lib/kafkajs/coordinator-cache.ts,
 * lib/kafkajs/encoder-buffers.ts, lib/kafkajs/produce-encoder.ts) were written against and tested with. Each replaces a kafkajs internal,
 * so each applies only when the installed kafkajs is exactly this one (package.json pins it); on any other
 * version kafkajs runs as published.
 */
export const PINNED_KAFKAJS_VERSION = '2.2.4';

export function kafkajsIsPinnedVersion(): boolean {
  return (require('kafkajs/package.json') as { version: string }).version === PINNED_KAFKAJS_VERSION;
}
