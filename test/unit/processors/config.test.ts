import { ConfigError } from '../../../lib/errors';
import { loadProcessorConfig, PROCESSOR_GROUP_ID } from '../../../processors/config';

describe('processor config', () => {
  it('has working defaults once NYLAS_API_KEY is given', () => {
    const c = loadProcessorConfig({ NYLAS_API_KEY: 'k' });
    expect(c.groupId).toBe(PROCESSOR_GROUP_ID);
    expect(c.nylas).toEqual({ apiKey: 'k', apiUri: 'https://api.us.nylas.com' });
    expect(c.dedupeWindowMs).toBe(96 * 3_600_000);
    // 72 h of Nylas backfill + its retries fit, and the state outlives the window (stages/window.ts).
    expect(c.acceptWindowMs).toBe(80 * 3_600_000);
    expect(c.reorderWindowMs).toBe(0);
    expect(c.topics.state).toBe('nylas-stream-processor.state');
    expect(c.metricsPort).toBe(9464);
    expect(Object.isFrozen(c.expansion)).toBe(true);
  });

  it('reads durations and overrides', () => {
    const c = loadProcessorConfig({
      NYLAS_API_KEY: 'k',
      NYLAS_API_URI: 'http://127.0.0.1:4000/',
      DEDUPE_WINDOW: '24h',
      REORDER_WINDOW_MS: '500',
      EXPANSION_CONCURRENCY: '4',
      EXPANSION_DEADLINE: '30s',
      PROCESSOR_GROUP_ID: 'g2',
    });
    expect(c.nylas.apiUri).toBe('http://127.0.0.1:4000');
    expect(c.dedupeWindowMs).toBe(86_400_000);
    expect(c.acceptWindowMs).toBe(20 * 3_600_000);
    expect(c.reorderWindowMs).toBe(500);
    expect(c.expansion.concurrency).toBe(4);
    expect(c.expansion.deadlineMs).toBe(30_000);
    expect(c.groupId).toBe('g2');
  });

  it.each([
    [{}, 'NYLAS_API_KEY'],
    [{ NYLAS_API_KEY: 'k', DEDUPE_WINDOW: 'forever' }, 'DEDUPE_WINDOW'],
    [{ NYLAS_API_KEY: 'k', REORDER_WINDOW_MS: '-1' }, 'REORDER_WINDOW_MS'],
    [{ NYLAS_API_KEY: 'k', ACCEPT_WINDOW: '96h' }, 'ACCEPT_WINDOW'],
    [{ NYLAS_API_KEY: 'k', DEDUPE_WINDOW: '72h', ACCEPT_WINDOW: '80h' }, 'ACCEPT_WINDOW'],
    [{ NYLAS_API_KEY: 'k', NYLAS_API_URI: 'ftp://x' }, 'NYLAS_API_URI'],
    [
      { NYLAS_API_KEY: 'k', EXPANSION_BACKOFF_BASE: '5s', EXPANSION_BACKOFF_MAX: '1s' },
      'EXPANSION_BACKOFF_MAX',
    ],
  ])('names the variable of a bad value (%o)', (env, variable) => {
    let err: unknown;
    try {
      loadProcessorConfig(env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe(variable);
  });
});
