#!/usr/bin/env node
/**
 * `up`'s life cycle without the JVMs, for test/unit/cli/up-shutdown.test.ts: the same stdio guard,
 * stop request and shutdown sequence as cli/up/up.ts, with stand-ins — a service child (like the
 * ingress: same process group, a moment to stop after SIGTERM) and two detached processes, "registry"
 * and "kafka", started and stopped by the local runtime's own spawnDetached/stopProcess (like the real
 * ones: not in the terminal's process group, so only `up` can stop them).
 *
 *   node test/helpers/up-shutdown-child.js <dir for the PID files>
 *
 * stderr: one JSON line with the stand-ins' PIDs at start, "stdout closed" when a write met a closed
 * stdout, and "shutdown complete" at the end.
 */
'use strict';
const { spawn } = require('node:child_process');
require('./ts-require');
const { guardStdio, onStdioClosed } = require('../../cli/stdio.ts');
const { runShutdown, stopRequest } = require('../../cli/up/shutdown.ts');
const { spawnDetached, stopProcess } = require('../../deploy/local/process.ts');

guardStdio(); // what main() does first
const stop = stopRequest(); // what up() does first
// Says so when a write met a closed stdout (the test checks the goodbye really did).
onStdioClosed((stream) => process.stderr.write(`${stream} closed\n`));
const idle = ['-e', 'setInterval(() => {}, 1 << 30)'];
// Like the ingress, the service takes a moment to stop (it answers what is in flight, flushes).
const graceful = [
  '-e',
  "setInterval(() => {}, 1 << 30); process.on('SIGTERM', () => setTimeout(() => process.exit(0), 500))",
];
const service = spawn(process.execPath, graceful, { stdio: 'ignore' });
const dir = process.argv[2];
// Two, stopped one after the other like LocalRuntime.stop() does (registry first, then Kafka).
const managed = (name) => ({
  name,
  pidFile: `${dir}/${name}.pid`,
  logFile: `${dir}/${name}.log`,
  marker: `up-shutdown-child.${process.pid}.${name}`,
});
const registry = managed('registry');
const kafka = managed('kafka');
const registryPid = spawnDetached(registry, process.execPath, [...idle, registry.marker]);
const kafkaPid = spawnDetached(kafka, process.execPath, [...idle, kafka.marker]);
const exited = (child) => new Promise((resolve) => child.once('exit', resolve));
process.stderr.write(`${JSON.stringify({ service: service.pid, registry: registryPid, kafka: kafkaPid })}\n`);
console.log('nylas-stream is up');

stop.requested
  .then(() =>
    runShutdown(
      [
        {
          name: 'service',
          say: '\nstopping services…',
          run: () => {
            const done = exited(service);
            service.kill('SIGTERM');
            return done;
          },
        },
        {
          name: 'Kafka and the registry',
          say: 'stopping Kafka and the registry…',
          run: async () => {
            await stopProcess(registry);
            await stopProcess(kafka);
          },
        },
      ],
      (line) => console.log(line),
    ),
  )
  .then(() => {
    stop.dispose();
    process.stderr.write('shutdown complete\n');
  });
