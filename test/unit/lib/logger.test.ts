import { createLogger } from '../../../lib/logger';
import { captureLog as capture } from '../../helpers/log-capture';

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
