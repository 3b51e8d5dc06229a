/**
 * One pino root per process. Secrets and signatures are redacted by path so that a careless
 * `log.info({ headers })` or `log.info({ config })` can never print them.
 */

import { logLevel as KafkaLogLevel, type logCreator } from 'kafkajs';
import pino, { type Logger } from 'pino';
import type { LogLevel } from './config';

export type { Logger } from 'pino';

/** Paths pino replaces with "[redacted]". Wildcards cover nested config sections and header maps. */
export const REDACT_PATHS = [
  'password',
  'secret',
  'secrets',
  'apiKey',
  'authorization',
  '*.password',
  '*.secret',
  '*.secrets',
  '*.apiKey',
  '*.authorization',
  '*.*.password',
  '*.*.secret',
  '*.*.secrets',
  '*.*.apiKey',
  // Config objects nest three deep (config.kafka.sasl.password).
  '*.*.*.password',
  '*.*.*.secret',
  '*.*.*.apiKey',
  // The ingress config holds its secrets at ingress.secrets: { started: { config } } puts them four deep.
  '*.*.*.secrets',
  'headers["x-nylas-signature"]',
  'headers["nylas-signature"]',
  'headers.authorization',
  '*.headers["x-nylas-signature"]',
  '*.headers["nylas-signature"]',
  '*.headers.authorization',
  'req.headers["x-nylas-signature"]',
  'req.headers.authorization',
  'signature',
  '*.signature',
  'webhook_secret',
  '*.webhook_secret',
  // The Nylas SDK's camel-cased WebhookWithSecret (what `webhooks create` and `rotate-secret` receive).
  'webhookSecret',
  '*.webhookSecret',
];

export interface LoggerOptions {
  level: LogLevel;
  name: string;
  /** Where to write; defaults to stdout. Tests pass a stream to assert on log lines. */
  destination?: pino.DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      name: options.name,
      level: options.level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { service: options.name },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination,
  );
}

/** A logger that prints nothing (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

const KAFKA_TO_PINO: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [KafkaLogLevel.NOTHING]: 'debug',
  [KafkaLogLevel.ERROR]: 'error',
  [KafkaLogLevel.WARN]: 'warn',
  [KafkaLogLevel.INFO]: 'info',
  [KafkaLogLevel.DEBUG]: 'debug',
};

/**
 * kafkajs lines that are not worth an operator's attention:
 * - errors that are a normal step of a protocol, retried at once: after a commit the transaction
 *   coordinator answers the next transaction's first request with CONCURRENT_TRANSACTIONS until the
 *   commit markers are written (kafkajs logs each retry at ERROR);
 * - the warning "Limiting retries for the idempotent producer may invalidate EoS guarantees", printed
 *   for every producer we create (the processor makes one per partition): our producers limit retries on
 *   purpose and never resend after giving up (the ingress retires the producer, the processor aborts the
 *   transaction and redoes the round), so the warning describes a case that cannot happen here.
 */
const QUIET_KAFKAJS_LINES = [
  'another concurrent operation on the same transaction was ongoing',
  'Limiting retries for the idempotent producer may invalidate EoS guarantees',
];

function isQuietLine(message: unknown, error: unknown): boolean {
  const text = `${String(message ?? '')} ${String(error ?? '')}`;
  return QUIET_KAFKAJS_LINES.some((r) => text.includes(r));
}

/** Routes kafkajs's own log lines into our pino root (child `component: kafkajs`). kafkajs is
 * chatty at INFO about every group join, so its INFO lines are logged at debug, and so are the
 * lines above. */
export function kafkaLogCreator(root: Logger): logCreator {
  const log = root.child({ component: 'kafkajs' });
  return () =>
    ({ level, log: entry }) => {
      const { message, ...rest } = entry;
      const target = KAFKA_TO_PINO[level] ?? 'debug';
      // Only errors and warnings are looked at: the check builds a string per line.
      const quiet =
        target === 'info' ||
        (target !== 'debug' && isQuietLine(message, (rest as { error?: unknown }).error));
      log[quiet ? 'debug' : target](rest, message);
    };
}
