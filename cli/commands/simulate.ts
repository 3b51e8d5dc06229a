/**
 * `nylas-stream simulate`: the local Nylas (simulator/). `serve` runs the REST and webhooks management
 * API; `send` delivers a named scenario or a burst to a webhook URL with Nylas's delivery rules and
 * writes the oracle report; `scenarios` lists the scenarios; `mock` prints an example notification.
 */
import type { Command } from 'commander';
import { ConfigError } from '../../lib/errors';
import { createLogger } from '../../lib/logger';
import {
  createMockNotifications,
  createWorld,
  Dispatcher,
  NotificationGenerator,
  type NylasApiServer,
  realClock,
  runScenario,
  SCENARIOS,
  scaledClock,
  signBody,
  startNylasApi,
  TEST_TOOL_TRIGGERS,
  writeOracleReport,
} from '../../simulator';
import { type Flags, loadSendConfig, loadServeConfig } from '../../simulator/config';

function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

function printApi(api: NylasApiServer, apiKey: string): void {
  console.log(`simulated Nylas API: NYLAS_API_URI=${api.url} NYLAS_API_KEY=${apiKey}`);
  console.log(
    `  application ${api.world.applicationId}, ${api.world.grantIds.length} grants (first: ${api.world.grantIds[0] ?? '-'})`,
  );
}

export function registerSimulateCommands(program: Command): void {
  const simulate = program
    .command('simulate')
    .description("a local Nylas: REST + webhooks API, and a signed sender with Nylas's delivery rules");

  simulate
    .command('serve')
    .description(
      'serve the Nylas REST API (messages, events, …) and the webhooks management API for a seeded world',
    )
    .option('--port <n>', 'port (0 = any free port; env SIMULATOR_PORT)')
    .option('--host <host>', 'interface to bind (env SIMULATOR_HOST)', undefined)
    .option('--api-key <key>', 'Bearer key clients must send (env NYLAS_API_KEY)')
    .option('--grants <n>', 'grants in the world', '10')
    .option('--seed <n>', 'world seed', '1')
    .option('--start-time <unix-seconds>', 'simulated start time (default: now)')
    .option(
      '--send-count <n>',
      'once a destination is registered (POST /v3/webhooks), deliver this many notifications to its subscribers',
    )
    .action(async (flags: Flags) => {
      const config = loadServeConfig(flags);
      const logger = createLogger({ name: 'simulator', level: 'info' });
      const world = createWorld({ seed: config.seed, grants: config.grants, startTime: config.startTime });
      const api = await startNylasApi({
        world,
        apiKey: config.apiKey,
        port: config.port,
        host: config.host,
        logger,
      });
      printApi(api, config.apiKey);
      const stop = untilSignal();
      if (config.sendCount > 0) {
        console.log(`waiting for a webhook destination, then sending ${config.sendCount} notifications`);
        let stopped = false;
        void stop.then(() => {
          stopped = true;
        });
        while (!stopped && api.webhooks.list().length === 0) await realClock.sleep(200);
        if (!stopped) {
          const dispatcher = new Dispatcher(api.webhooks, { logger });
          const outcomes = await dispatcher.send(new NotificationGenerator({ world }).take(config.sendCount));
          dispatcher.close();
          const acknowledged = outcomes.filter((o) => o.delivered).length;
          console.log(
            `sent ${outcomes.length} deliveries, ${acknowledged} acknowledged; serving until Ctrl-C`,
          );
        }
      }
      const signal = await stop;
      logger.info({ signal }, 'stopping');
      await api.close();
    });

  simulate
    .command('send')
    .description(
      'deliver a scenario or a burst to a webhook URL (signed, retried as Nylas does) and report what was acknowledged',
    )
    .option('--url <url>', 'webhook URL (env SIMULATOR_WEBHOOK_URL)')
    .option('--secret <secret>', 'destination webhook_secret (env SIMULATOR_WEBHOOK_SECRET)')
    .option('--scenario <name>', `one of: ${Object.keys(SCENARIOS).join(', ')}`, 'burst')
    .option('--count <n>', 'notifications to generate', '1000')
    .option('--grants <n>', 'grants in the world', '10')
    .option('--seed <n>', 'seed for the world, the traffic and the injected faults', '1')
    .option('--start-time <unix-seconds>', 'simulated start time (default: now)')
    .option('--rate <per-second>', 'first attempts per second (0 = unlimited)', '0')
    .option('--concurrency <n>', 'requests in flight', '16')
    .option('--duplicate-rate <0..1>', 'share delivered twice (same id)', '0')
    .option('--reorder-rate <0..1>', 'share moved later in the sending order', '0')
    .option('--truncation-rate <0..1>', 'share of messages over 1 MB (sent as .truncated)')
    .option('--compressed', 'compressed delivery (gzip, signature over the gzip bytes)')
    .option('--time-scale <x>', 'run retry delays and Retry-After x times faster', '1')
    .option('--timeout-ms <ms>', 'answer timeout', '10000')
    .option('--report <file>', 'write the oracle report (JSON) here')
    .option('--no-final-state', 'leave the final state of every object out of the report')
    .option(
      '--serve-api',
      'also serve the REST API for the same world (expansion of truncated messages) until Ctrl-C',
    )
    .option('--api-port <n>', 'port for --serve-api')
    .option('--api-key <key>', 'Bearer key for --serve-api (env NYLAS_API_KEY)')
    .action(async (flags: Flags) => {
      const config = loadSendConfig({ ...flags, port: flags.apiPort });
      const logger = createLogger({ name: 'simulator', level: 'warn' });
      const world = createWorld({ seed: config.seed, grants: config.grants, startTime: config.startTime });
      let api: NylasApiServer | undefined;
      if (config.serveApi) {
        api = await startNylasApi({
          world,
          apiKey: config.serveApi.apiKey,
          port: config.serveApi.port,
          host: config.serveApi.host,
          logger,
        });
        printApi(api, config.serveApi.apiKey);
      }
      const started = performance.now();
      const run = await runScenario({
        scenario: config.scenario,
        world,
        seed: config.seed,
        count: config.count,
        truncationRate: config.truncationRate,
        includeFinalState: config.includeFinalState,
        logger,
        sender: {
          url: config.url,
          secret: config.secret,
          compressed: config.compressed,
          clock: scaledClock(config.timeScale),
          timeoutMs: config.timeoutMs,
          concurrency: config.concurrency,
          ratePerSecond: config.rate,
          duplicateRate: config.duplicateRate,
          reorderRate: config.reorderRate,
        },
      });
      const seconds = (performance.now() - started) / 1000;
      const s = run.report.summary;
      console.log(
        `${config.scenario}: ${s.generated} notifications, ${s.acknowledged} acknowledged, ${s.notAcknowledged} not ` +
          `(${Object.entries(s.byReason)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}); ${s.deliveries} deliveries ` +
          `(${s.duplicateDeliveries} duplicates), ${s.attempts} attempts, ${s.truncated} truncated; ` +
          `${seconds.toFixed(1)} s (${(s.attempts / Math.max(seconds, 0.001)).toFixed(0)} attempts/s)`,
      );
      if (config.reportPath) {
        await writeOracleReport(config.reportPath, run.report);
        console.log(`oracle report: ${config.reportPath}`);
      }
      if (api) {
        console.log('serving the API until Ctrl-C');
        await untilSignal();
        await api.close();
      }
    });

  simulate
    .command('scenarios')
    .description('list the named scenarios')
    .action(() => {
      for (const s of Object.values(SCENARIOS)) console.log(`${s.name.padEnd(16)} ${s.description}`);
    });

  simulate
    .command('mock <trigger>')
    .description('print an example notification for a trigger (as POST /v3/webhooks/mock-payload does)')
    .option('--secret <secret>', 'also print the X-Nylas-Signature of the printed bytes under this secret')
    .action((trigger: string, flags: Flags) => {
      if (!TEST_TOOL_TRIGGERS.includes(trigger))
        throw new ConfigError(
          'trigger',
          `"${trigger}" is not accepted by the test tools; one of ${TEST_TOOL_TRIGGERS.join(', ')}`,
        );
      const body = JSON.stringify(createMockNotifications('app-simulator')(trigger));
      console.log(body);
      if (typeof flags.secret === 'string')
        console.error(`X-Nylas-Signature: ${signBody(body, flags.secret)}`);
    });
}
