/**
 * Per-run unique names for topics and groups. Kept free of jest globals: the benchmark (test/bench,
 * compiled with plain tsc and run with node) imports it too.
 */
import { randomBytes } from 'node:crypto';

/** A name no other test (or earlier run) uses: "<prefix>-<random>". */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}
