/**
 * How a nylas-stream service process is started: the Node flags and glibc settings that the image carries
 * (the Dockerfile's ENTRYPOINT and ENV; test/unit/deploy/dockerfile.test.ts holds it to these values) and
 * that `nylas-stream up` and the benchmarks give the services they start (cli/up/supervisor.ts).
 *
 * Why each one: docs/operations.md, "Processor memory", has the measurements.
 */

/**
 * V8's young generation capped at 16 MiB per semi-space, Node 20's default on 64-bit Linux.
 *
 * Node 24 (the image's runtime) lets it grow to 64 MiB per semi-space: 128 MiB of new space committed
 * once the processor drains a backlog, and V8 adds the new space's capacity to the old generation's
 * allocation limit too (read in an older V8's heap controller, not measured apart). Since V8 13 the pages
 * a full collection frees stay resident in a pool until a memory-reducing collection, which a busy
 * process does not get, so the RSS stays at the heap's highest committed size. A processor draining 2,000,000 notifications held 644-694 MB on Node 24 against 396-446
 * on Node 20; with this flag 615 (one run), for 2 % more CPU per record (bench:ab on Node 24, 106.5
 * against 104.6 µs: within the noise). The flag must be given at start-up: V8 sizes the heap when the
 * isolate is created, and setting it later has no effect (tried).
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16'];

/**
 * The processor's V8 heap limit where nylas-stream starts it (`nylas-stream up`, the benchmarks): 256 MB.
 *
 * Why: V8 collects the old generation only when the heap nears a limit that grows with what survived, so
 * on a machine with much memory (Node's default here: 4,144 MB) a processor draining a backlog holds far
 * more garbage than data. A 2,000,000 drain on Node 24 stood at 573 MB after it (603 peak) with Node's
 * default and at 467-473 (484-487 peak) with this limit, under issue 15's 512 MB target
 * (docs/benchmarks.md). What the processor holds at its busiest is bounded now: the queues
 * (PROCESSOR_MAX_QUEUED_BYTES_TOTAL; 137 MB survived full collections at most in that drain) and the
 * expansions of truncated messages, whose budget is derived from this limit (processors/expansion-budget.ts).
 * In a container with no flag Node derives the limit from the container's memory; the processor logs it
 * (`heapLimitMb`) with the budget derived from it (`expansionMaxHeldMb`).
 */
export const PROCESSOR_NODE_FLAGS: readonly string[] = ['--max-old-space-size=256'];

/** The Node flags a role starts with where nylas-stream starts it (cli/up/supervisor.ts, `bench:ab`). */
export function serviceNodeFlags(role: string | undefined): readonly string[] {
  return role === 'processor' ? [...SERVICE_NODE_FLAGS, ...PROCESSOR_NODE_FLAGS] : SERVICE_NODE_FLAGS;
}

/**
 * glibc settings, given unless the environment sets them.
 *
 * MALLOC_ARENA_MAX=2: glibc gives threads up to 8 arenas per core, and the processor has many threads
 * (RocksDB's, libuv's, the expansion worker); memory freed in an arena stays mapped in it, so the RSS
 * after a burst stayed ~150 MB higher with the default at the same drain speed.
 *
 * Not MALLOC_MMAP_THRESHOLD_ (tried, 2026-12-07): fixing glibc's mmap threshold at 128 KiB kept the main
 * arena at 96 MB instead of 138-152 after a 2,000,000 drain, but each large block (a fetch response) then
 * came from a fresh mapping: 7 % more CPU per record (bench:ab on Node 24, 114.0 against 106.5 µs) and
 * full restores at 48,500-54,000 entries/s instead of 66,000-91,000.
 */
export const SERVICE_ENV_DEFAULTS: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
};
