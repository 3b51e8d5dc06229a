/**
 * kafkajs's own log lines, routed into our pino root (child `component: kafkajs`) at levels an operator
 * can live with: kafkajs logs normal protocol steps as errors and warns about a case our producers rule
 * out, on every producer.
 */
import { logLevel as KafkaLogLevel, type logCreator } from 'kafkajs';
import type { Logger } from '../logger';

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
        target === 'info' || (target !== 'debug' && isQuietLine(message, Reflect.get(rest, 'error')));
      log[quiet ? 'debug' : target](rest, message);
    };
}
