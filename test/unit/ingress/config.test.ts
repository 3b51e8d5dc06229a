import { INGRESS_DEFAULTS, loadIngressConfig } from '../../../ingress/config';
import { configError } from '../../helpers/config-error';

describe('loadIngressConfig', () => {
  it('has working defaults with no variables at all', () => {
    const c = loadIngressConfig({});
    expect(c.ingress).toMatchObject({
      host: '0.0.0.0',
      port: 3000,
      maxBodyBytes: 2 * 1024 * 1024,
      ackTimeoutMs: 8000,
      retryAfterSeconds: INGRESS_DEFAULTS.retryAfterSeconds,
      batch: { lingerMs: 2, maxRecords: 500, maxBytes: 900 * 1024 },
      secrets: { inline: {}, file: undefined, acceptMockSecret: false },
      strangers: {
        bodyDeadlineMs: 5000,
        headersTimeoutMs: 5000,
        unverifiedMaxBytes: 16 * 1024 * 1024,
        keepAliveTimeoutMs: 65_000,
      },
      source: undefined,
    });
    expect(c.topics.raw).toBe('nylas.webhooks.raw');
    expect(c.kafka.brokers).toEqual(['127.0.0.1:19092']);
  });

  it('reads every ingress variable', () => {
    const c = loadIngressConfig({
      INGRESS_HOST: '127.0.0.1',
      INGRESS_PORT: '0',
      INGRESS_MAX_BODY_BYTES: '65536',
      INGRESS_ACK_TIMEOUT_MS: '4000',
      INGRESS_RETRY_AFTER_SECONDS: '30',
      INGRESS_MAX_IN_FLIGHT: '50',
      INGRESS_MAX_IN_FLIGHT_BYTES: '1048576',
      INGRESS_BATCH_LINGER_MS: '0',
      INGRESS_BATCH_MAX_RECORDS: '10',
      INGRESS_BATCH_MAX_BYTES: '4096',
      NYLAS_WEBHOOK_SECRETS: 's1, s2, billing=s3',
      NYLAS_WEBHOOK_SECRETS_FILE: '/run/secrets/x.json',
      NYLAS_WEBHOOK_SECRETS_RELOAD_MS: '250',
      INGRESS_ACCEPT_MOCK_SECRET: 'true',
      INGRESS_REJECTED_RATE_PER_SEC: '1',
      INGRESS_REJECTED_BURST: '2',
      INGRESS_REJECTED_SAMPLE_BYTES: '0',
      INGRESS_SHUTDOWN_TIMEOUT_MS: '1000',
      INGRESS_BODY_DEADLINE_MS: '2000',
      INGRESS_HEADERS_TIMEOUT_MS: '3000',
      INGRESS_UNVERIFIED_MAX_BYTES: '1048576',
      INGRESS_KEEP_ALIVE_TIMEOUT_MS: '5000',
      INGRESS_SOURCE_ALLOWLIST: '192.0.2.0/24, 198.51.100.7, 2001:db8::/32',
      INGRESS_SOURCE_ALLOWLIST_FROM_NYLAS: 'true',
      INGRESS_SOURCE_ALLOWLIST_REFRESH_MS: '60000',
      INGRESS_TRUST_PROXY_HOPS: '1',
      NYLAS_API_KEY: 'nyk_test',
      NYLAS_API_URI: 'http://127.0.0.1:9999/',
    });
    expect(c.ingress).toEqual({
      host: '127.0.0.1',
      port: 0,
      maxBodyBytes: 65536,
      ackTimeoutMs: 4000,
      retryAfterSeconds: 30,
      maxInFlight: 50,
      maxInFlightBytes: 1048576,
      batch: { lingerMs: 0, maxRecords: 10, maxBytes: 4096 },
      secrets: {
        inline: { default: ['s1', 's2'], billing: ['s3'] },
        file: '/run/secrets/x.json',
        reloadIntervalMs: 250,
        acceptMockSecret: true,
      },
      rejected: { ratePerSecond: 1, burst: 2, sampleBytes: 0 },
      strangers: {
        bodyDeadlineMs: 2000,
        headersTimeoutMs: 3000,
        unverifiedMaxBytes: 1048576,
        keepAliveTimeoutMs: 5000,
      },
      source: {
        cidrs: ['192.0.2.0/24', '198.51.100.7', '2001:db8::/32'],
        fromNylas: { apiKey: 'nyk_test', apiUri: 'http://127.0.0.1:9999' },
        refreshMs: 60000,
        trustProxyHops: 1,
      },
      shutdownTimeoutMs: 1000,
    });
  });

  it('is deeply frozen', () => {
    const c = loadIngressConfig({ NYLAS_WEBHOOK_SECRETS: 'a' });
    expect(Object.isFrozen(c.ingress)).toBe(true);
    expect(Object.isFrozen(c.ingress.batch)).toBe(true);
    expect(Object.isFrozen(c.ingress.secrets.inline.default)).toBe(true);
  });

  it.each([
    ['INGRESS_PORT', 'http'],
    ['INGRESS_PORT', '70000'],
    ['INGRESS_MAX_BODY_BYTES', '5MB'],
    ['INGRESS_ACK_TIMEOUT_MS', '10000'],
    ['INGRESS_ACK_TIMEOUT_MS', '0'],
    ['INGRESS_MAX_IN_FLIGHT', '0'],
    ['INGRESS_BATCH_MAX_RECORDS', '-1'],
    ['INGRESS_ACCEPT_MOCK_SECRET', 'maybe'],
    ['INGRESS_HOST', 'exa mple'],
    ['NYLAS_WEBHOOK_SECRETS', 'bad name!=secret'],
    ['NYLAS_WEBHOOK_SECRETS', 'billing='],
    ['NYLAS_WEBHOOK_SECRETS_RELOAD_MS', '10'],
    ['INGRESS_BODY_DEADLINE_MS', '20000'],
    ['INGRESS_HEADERS_TIMEOUT_MS', '0'],
    // Smaller than one body of the largest size plus its per-request charge: no such body could be read.
    ['INGRESS_UNVERIFIED_MAX_BYTES', String(2 * 1024 * 1024)],
    ['INGRESS_SOURCE_ALLOWLIST', '10.0.0.0/33'],
    ['INGRESS_SOURCE_ALLOWLIST', 'nylas.com'],
    ['NYLAS_API_KEY', undefined],
  ])('rejects %s=%s naming the variable', (name, value) => {
    // NYLAS_API_KEY is missing while INGRESS_SOURCE_ALLOWLIST_FROM_NYLAS asks for Nylas's list.
    const env = value === undefined ? { INGRESS_SOURCE_ALLOWLIST_FROM_NYLAS: 'true' } : { [name]: value };
    const err = configError(() => loadIngressConfig(env));
    expect(err.variable).toBe(name);
    expect(err.message).toContain(name);
  });

  it('names the position of a bad allowlist entry, not its text', () => {
    const err = configError(() => loadIngressConfig({ INGRESS_SOURCE_ALLOWLIST: '10.0.0.1, internal-host' }));
    expect(err.message).toContain('entry 2');
    expect(err.message).not.toContain('internal-host');
  });

  it('never puts a secret in a configuration error message', () => {
    const err = configError(() => loadIngressConfig({ NYLAS_WEBHOOK_SECRETS: 'top-secret-value,x y=z' }));
    expect(err.message).not.toContain('top-secret-value');
    expect(err.message).not.toContain('z');
  });
});
