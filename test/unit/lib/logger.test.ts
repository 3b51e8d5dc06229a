import { Writable } from 'node:stream';
import { createLogger } from '../../../lib/logger';

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
    const text = JSON.stringify(out.lines());
    for (const secret of ['hunter2', 'nyk_live', 'f1344fa7', 'whsec', '"s1"'])
      expect(text).not.toContain(secret);
    expect(text).toContain('application/json');
    expect(text).toContain('[redacted]');
    const [line] = out.lines();
    expect(line).toMatchObject({ level: 'info', service: 'test', msg: 'hello' });
  });
});
