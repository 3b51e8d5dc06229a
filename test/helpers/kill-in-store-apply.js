/**
 * Preloaded into a real processor child (`node -r test/helpers/kill-in-store-apply.js
 * dist/cli/index.js processor`) by the state crash tests (test/integration/processors/state/), so the
 * child dies by SIGKILL at one exact point without a test hook in production code: inside
 * `PartitionStore.apply`, before the store writes anything, on the Nth call that carries changes and a
 * checkpoint and comes from the given caller:
 *
 * - `partition`: a round's apply (processors/partition.ts), i.e. after its transaction committed and
 *   before the store reflects it: the window the changelog tail must repair;
 * - `restore`: a restore's apply (processors/state/restore.ts), i.e. in the middle of a restore.
 *
 *   NYLAS_STREAM_TEST_KILL_AT_APPLY   N (1-based); unset: the preload does nothing
 *   NYLAS_STREAM_TEST_KILL_CALLER     partition | restore
 *   NYLAS_STREAM_TEST_KILL_MARKER     file written just before the kill (JSON, see below): the test's proof
 *                                     that the child died there and what the lost apply held
 *
 * Which module called is read from the stack: the call is synchronous from partition.js's round() or
 * restore.js's applyBatch(), so the caller's file is a frame or two up.
 */
'use strict';
const { writeFileSync } = require('node:fs');
const path = require('node:path');

const target = Number(process.env.NYLAS_STREAM_TEST_KILL_AT_APPLY ?? 0);
const caller = process.env.NYLAS_STREAM_TEST_KILL_CALLER;
const marker = process.env.NYLAS_STREAM_TEST_KILL_MARKER;

const CALLERS = {
  partition: `${path.sep}processors${path.sep}partition.js:`,
  restore: `${path.sep}processors${path.sep}state${path.sep}restore.js:`,
};

if (target > 0) {
  if (!(caller in CALLERS) || !marker) {
    throw new Error('kill-in-store-apply: NYLAS_STREAM_TEST_KILL_CALLER and _MARKER are required');
  }
  const { PartitionStore } = require(path.resolve(__dirname, '../../dist/processors/state/store'));
  const original = PartitionStore.prototype.apply;
  let calls = 0;
  PartitionStore.prototype.apply = function apply(changes, checkpoint) {
    if (checkpoint !== undefined && changes.length > 0 && calledFrom(CALLERS[caller])) {
      calls++;
      if (calls === target) {
        writeFileSync(
          marker,
          JSON.stringify({
            pid: process.pid,
            caller,
            call: calls,
            partition: this.partition,
            // The store's checkpoint as on disk (this apply never runs) and the one it would have written.
            storeCheckpoint: this.checkpoint?.offset.toString() ?? null,
            checkpoint: checkpoint.toString(),
            dedupeIds: changes.filter((c) => c.kind === 'dedupe').map((c) => c.id),
            versions: changes
              .filter((c) => c.kind === 'version')
              .map((c) => ({
                key: c.key,
                version: c.entry.version.toString(),
                deleted: c.entry.deleted,
              })),
          }),
        );
        process.kill(process.pid, 'SIGKILL');
        // SIGKILL to oneself is delivered on the way out of the syscall; never run the apply meanwhile.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
      }
    }
    return original.call(this, changes, checkpoint);
  };
}

function calledFrom(fragment) {
  const stack = new Error().stack ?? '';
  return stack
    .split('\n')
    .slice(2, 6)
    .some((line) => line.includes(fragment));
}
