/**
 * `nylas-stream ingress`: the production entry point of the webhook receiver. SIGTERM (and SIGINT)
 * shut it down gracefully — stop accepting, finish in-flight requests, flush, exit 0; SIGHUP re-reads
 * the webhook secrets file at once.
 */
import type { Command } from 'commander';
import { startIngress } from '../../ingress';
import { loadIngressConfig } from '../../ingress/config';
import { createLogger } from '../../lib/logger';

export function registerIngressCommand(program: Command): void {
  program
    .command('ingress')
    .description('run the webhook ingress: answer challenges, verify signatures, publish to Kafka')
    .action(async () => {
      const config = loadIngressConfig(process.env);
      const logger = createLogger({ name: 'ingress', level: config.logLevel });
      const running = await startIngress(config, { logger, env: process.env });
      const onHup = () => void running.secrets.reload();
      process.on('SIGHUP', onHup);
      await new Promise<void>((resolve) => {
        const shutdown = (signal: NodeJS.Signals) => {
          logger.info({ signal }, 'signal received');
          running.stop().then(resolve, (err: unknown) => {
            logger.error({ err }, 'graceful shutdown failed');
            process.exitCode = 1;
            resolve();
          });
        };
        process.once('SIGTERM', shutdown);
        process.once('SIGINT', shutdown);
      });
      process.off('SIGHUP', onHup);
      // kafkajs can keep timers alive after disconnecting; everything is flushed, so leave now.
      process.exit(process.exitCode ?? 0);
    });
}
