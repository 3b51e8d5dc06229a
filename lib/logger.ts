/**
 * One pino root per process. Secrets and signatures are redacted by path so that a careless
 * `log.info({ headers })` or `log.info({ config })` can never print them.
 */

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
