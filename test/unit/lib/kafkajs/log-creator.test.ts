/** kafkajs's log lines in our logger: levels, and the lines kept quiet on purpose. */
import { logLevel } from 'kafkajs';
import { kafkaLogCreator } from '../../../../lib/kafkajs/log-creator';
import { createLogger } from '../../../../lib/logger';
import { captureLog as capture } from '../../../helpers/log-capture';

describe('kafkaLogCreator', () => {
  const line = (level: number, message: string, extra: Record<string, unknown> = {}) => ({
    namespace: 'Producer',
    level,
    label: 'ERROR',
    log: { timestamp: '2026-11-22T00:00:00.000Z', logger: 'kafkajs', message, ...extra },
  });

  it('keeps kafkajs errors and warnings at their level, and its chatty INFO at debug', () => {
    const out = capture();
    const log = createLogger({ name: 'test', level: 'debug', destination: out.stream });
    const write = kafkaLogCreator(log)(logLevel.DEBUG);
    write(line(logLevel.ERROR, 'Connection error: ECONNREFUSED'));
    write(line(logLevel.WARN, 'Limiting retries'));
    write(line(logLevel.INFO, 'Consumer has joined the group'));
    expect(out.lines().map((l) => [l.level, l.msg])).toEqual([
      ['error', 'Connection error: ECONNREFUSED'],
      ['warn', 'Limiting retries'],
      ['debug', 'Consumer has joined the group'],
    ]);
  });

  it('logs the routine CONCURRENT_TRANSACTIONS retry after a commit at debug, not error', () => {
    const out = capture();
    const log = createLogger({ name: 'test', level: 'debug', destination: out.stream });
    const write = kafkaLogCreator(log)(logLevel.DEBUG);
    const text =
      'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing';
    write(line(logLevel.ERROR, 'Response AddPartitionsToTxn(key: 24, version: 1)', { error: text }));
    write(line(logLevel.ERROR, `Failed to send messages: ${text}`, { retryCount: 0, retryTime: 12 }));
    expect(out.lines().map((l) => l.level)).toEqual(['debug', 'debug']);
  });

  it("logs kafkajs's per-producer warning about limited idempotent retries at debug, other warnings at warn", () => {
    const out = capture();
    const log = createLogger({ name: 'test', level: 'debug', destination: out.stream });
    const write = kafkaLogCreator(log)(logLevel.DEBUG);
    write(
      line(logLevel.WARN, 'Limiting retries for the idempotent producer may invalidate EoS guarantees', {}),
    );
    write(line(logLevel.WARN, 'Broker 1 disconnected', {}));
    expect(out.lines().map((l) => l.level)).toEqual(['debug', 'warn']);
  });
});
