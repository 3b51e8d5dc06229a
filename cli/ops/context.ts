/**
 * What every operations command starts from: the shared configuration (parsed once, from the
 * environment), a logger that writes to stderr (stdout is the command's output), and Kafka clients
 * whose connections are closed when the command ends.
 */
import type { Admin, Kafka } from 'kafkajs';
import pino from 'pino';
import { type CommonConfig, type Env, loadCommonConfig } from '../../lib/config';
import { createKafka } from '../../lib/kafka';
import { applyKafkajsAdaptations } from '../../lib/kafkajs';
import { createLogger, type Logger } from '../../lib/logger';

export interface OpsContext {
  config: CommonConfig;
  logger: Logger;
  kafka: Kafka;
}

export function opsContext(env: Env = process.env, name = 'cli'): OpsContext {
  const config = loadCommonConfig(env);
  // Operators want kafkajs's warnings, not its chatter; LOG_LEVEL=debug brings it back.
  const level = env.LOG_LEVEL === undefined ? 'warn' : config.logLevel;
  const logger = createLogger({ name, level, destination: pino.destination(2) });
  // Redrive and replay produce like the services do, with the same adaptations.
  applyKafkajsAdaptations(logger);
  return { config, logger, kafka: createKafka(config.kafka, logger, name) };
}

/** Runs `fn` with a connected admin client and always disconnects it. */
export async function withAdmin<T>(kafka: Kafka, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Left-aligned columns for plans and reports printed to a terminal. */
export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) {
    r.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}
