/**
 * The one place a kafkajs client is built, so SASL/SSL, timeouts and logging are identical in the
 * ingress, the processors and the CLI.
 */
import { readFileSync } from 'node:fs';
import { Kafka, type KafkaConfig as KafkaJsConfig, type SASLOptions } from 'kafkajs';
import type { KafkaConfig } from './config';
import { ConfigError } from './errors';
import { kafkaLogCreator } from './kafkajs/log-creator';
import type { Logger } from './logger';

export function kafkaJsOptions(config: KafkaConfig, logger: Logger, clientIdSuffix?: string): KafkaJsConfig {
  let ssl: KafkaJsConfig['ssl'] = false;
  if (config.ssl) {
    if (config.sslCaFile) {
      let ca: string;
      try {
        ca = readFileSync(config.sslCaFile, 'utf8');
      } catch (err) {
        throw new ConfigError(
          'KAFKA_SSL_CA_FILE',
          `cannot read ${config.sslCaFile}: ${(err as Error).message}`,
        );
      }
      ssl = { ca: [ca], rejectUnauthorized: config.sslRejectUnauthorized };
    } else {
      ssl = { rejectUnauthorized: config.sslRejectUnauthorized };
    }
  }
  let sasl: SASLOptions | undefined;
  if (config.sasl) {
    const { mechanism, username, password } = config.sasl;
    // The three mechanisms share one shape in kafkajs; the switch keeps the union type exact.
    switch (mechanism) {
      case 'plain':
        sasl = { mechanism, username, password };
        break;
      case 'scram-sha-256':
        sasl = { mechanism, username, password };
        break;
      case 'scram-sha-512':
        sasl = { mechanism, username, password };
        break;
    }
  }
  return {
    clientId: clientIdSuffix ? `${config.clientId}-${clientIdSuffix}` : config.clientId,
    brokers: config.brokers,
    ssl,
    ...(sasl ? { sasl } : {}),
    connectionTimeout: config.connectionTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    logCreator: kafkaLogCreator(logger),
    // Reconnects are our job (we answer 503 and retry); kafkajs's own retry stays short so a
    // dead broker is noticed within the ingress ack budget instead of after minutes.
    retry: { initialRetryTime: 100, retries: 5, maxRetryTime: 2000 },
  };
}

/**
 * Retry settings for transactional producers. After EndTxn the coordinator still writes the commit
 * markers, and a new transaction's first AddPartitionsToTxn meanwhile gets CONCURRENT_TRANSACTIONS, a
 * retriable error that is normal on every back-to-back transaction. The client's default first retry
 * (100 ms) made that wait dominate each transaction (docs/benchmarks.md, "Figures behind decisions in
 * the code"); the Java client retries this case after 20 ms. A 10 ms first retry doubling over 8
 * retries keeps roughly the same total budget for a broker that is really away.
 */
export const TRANSACTIONAL_RETRY = { initialRetryTime: 10, retries: 8, maxRetryTime: 2000 } as const;

/** A client as configured. The kafkajs adaptations are not installed here: a service applies them once
 * at start-up (applyKafkajsAdaptations, lib/kafkajs/index.ts), where their status is logged. */
export function createKafka(config: KafkaConfig, logger: Logger, clientIdSuffix?: string): Kafka {
  return new Kafka(kafkaJsOptions(config, logger, clientIdSuffix));
}
