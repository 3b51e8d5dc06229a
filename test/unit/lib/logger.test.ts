import { Writable } from 'node:stream';
import { logLevel } from 'kafkajs';
import { createLogger, kafkaLogCreator } from '../../../lib/logger';

function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('createLogger', () => {
  it('redacts secrets, passwords, API keys and signatures wherever they are logged', () => {
    const out = capture();
    const log = createLogger({ name: 'test', level: 'info', destination: out.stream });
    log.info(
      {
        config: { kafka: { sasl: { password: 'hunter2' } }, nylas: { apiKey: 'nyk_live' }, secrets: ['s1'] },
        headers: {
          'x-nylas-signature': 'f1344fa7',
          authorization: 'Bearer nyk_live',
          'content-type': 'application/json',
        },
        webhook_secret: 'whsec',
      },
      'hello',
    );
    // The SDK's webhook with its secret, and the ingress config logged whole.
    log.info({ webhook: { id: 'w1', webhookSecret: 'sdk-whsec' }, webhookSecret: 'sdk-whsec' }, 'created');
    log.info({ started: { config: { ingress: { secrets: { inline: { default: ['inline-s'] } } } } } }, 'up');
    const text = JSON.stringify(out.lines());
    for (const secret of ['hunter2', 'nyk_live', 'f1344fa7', 'whsec', '"s1"', 'sdk-whsec', 'inline-s'])
      expect(text).not.toContain(secret);
    expect(text).toContain('application/json');
    expect(text).toContain('[redacted]');
    const [line] = out.lines();
    expect(line).toMatchObject({ level: 'info', service: 'test', msg: 'hello' });
  });
});

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
