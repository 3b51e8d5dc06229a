/**
 * `node --cpu-prof` for processes the bench cannot give node flags to: Node 20 refuses --cpu-prof in
 * NODE_OPTIONS (Node 24 accepts it; this stays while 20 is supported, and writes the same profile on 24),
 * and the services run as `node dist/cli/index.js <role>` (cli/up/supervisor.ts). So
 * NODE_OPTIONS=--require <this file> starts the same V8 sampling profiler through node:inspector and
 * writes the same .cpuprofile format to $BENCH_CPU_PROF_DIR when the process exits.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.BENCH_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  // --cpu-prof's default sampling interval (1 ms).
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  process.once('exit', () => {
    // The in-thread session answers synchronously, so this works inside 'exit'.
    session.post('Profiler.stop', (err, result) => {
      if (err) return;
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `CPU.${Date.now()}.${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
