import { rmSync } from 'node:fs';
import { basename } from 'node:path';
export default async function globalTeardown(): Promise<void> {
  await globalThis.__nylasStreamInfraStop?.();
  // The run's state directory (global-setup.ts), when the run made it.
  const stateDir = process.env.PROCESSOR_STATE_DIR;
  if (stateDir && basename(stateDir).startsWith('nylas-stream-test-state-')) {
    rmSync(stateDir, { recursive: true, force: true });
  }
}
