/**
 * `nylas-stream processor`: the production entry point of the processors (consumer group
 * "nylas-stream-processor"). SIGTERM/SIGINT stop it gracefully: fetching stops, each partition finishes
 * the transaction in flight, producers and the consumer leave, exit 0. Whatever was not committed is
 * processed again by whoever takes the partitions over, exactly once.
 */
import { getHeapStatistics } from 'node:v8';
import type { Command } from 'commander';
import { createLogger } from '../../lib/logger';
import { loadProcessorConfig, startProcessor } from '../../processors';
import { applyHeapGrowing, applyOptimizeForSize, IdleMemoryRelease } from '../../processors/heap';

export function registerProcessorCommand(program: Command): void {
  program
    .command('processor')
    .description('run the processor: dedupe, order, expand and publish notifications as Avro domain events')
    .action(async () => {
      const config = loadProcessorConfig(process.env);
      const logger = createLogger({ name: 'processor', level: config.logLevel });
      // Before the processor allocates anything large: process-wide, so here and not in startProcessor.
      const heapFlag = applyHeapGrowing(config.heapGrowingPercent);
      if (heapFlag) logger.debug({ flag: heapFlag }, 'V8 heap growing factor set');
      const sizeFlag = applyOptimizeForSize(config.optimizeForSize);
      if (sizeFlag)
        logger.info({ flag: sizeFlag }, 'V8 set to optimize for size (PROCESSOR_OPTIMIZE_FOR_SIZE)');
      let fatal: ((err: unknown) => void) | undefined;
      const running = await startProcessor(config, {
        logger,
        env: process.env,
        onFatal: (err) => fatal?.(err),
      });
      // The heap limit V8 chose (from the machine's or the container's memory, or --max-old-space-size):
      // what a drain's garbage may grow into before V8 collects harder (docs/operations.md, "Processor memory").
      const heapLimitMb = Math.round(getHeapStatistics().heap_size_limit / 2 ** 20);
      logger.info({ metrics: running.url, heapLimitMb }, 'processor running');
      // Process-wide like the growing factor: here, not in startProcessor (tests share jest's process).
      const release = new IdleMemoryRelease({
        activity: () => running.metrics.handled(),
        idleMs: config.idleMemoryReleaseMs,
        log: logger,
      }).start();
      await new Promise<void>((resolve) => {
        const finish = () => {
          release.stop();
          running.stop().then(resolve, (err: unknown) => {
            logger.error({ err }, 'graceful shutdown failed');
            process.exitCode = 1;
            resolve();
          });
        };
        fatal = (err) => {
          logger.fatal({ err }, 'processor cannot continue');
          process.exitCode = 1;
          finish();
        };
        const onSignal = (signal: NodeJS.Signals) => {
          logger.info({ signal }, 'signal received');
          finish();
        };
        process.once('SIGTERM', onSignal);
        process.once('SIGINT', onSignal);
      });
      // kafkajs can keep timers alive after disconnecting; everything is committed, so leave now.
      process.exit(process.exitCode ?? 0);
    });
}
