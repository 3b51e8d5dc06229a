import { DEFAULTS, deepFreeze, loadCommonConfig, url } from '../../../lib/config';
import { configError } from '../../helpers/config-error';

describe('loadCommonConfig', () => {
  it('needs no variables: defaults match the local runtime', () => {
    const c = loadCommonConfig({});
    expect(c.kafka.brokers).toEqual([DEFAULTS.kafkaBrokers]);
    expect(c.registry.url).toBe(DEFAULTS.schemaRegistryUrl);
    expect(c.topics.raw).toBe('nylas.webhooks.raw');
    expect(c.topics.state).toBe('nylas-stream-processor.state');
    expect(c.topics.partitions).toBe(12);
    expect(c.logLevel).toBe('info');
  });

  it('reads every documented override', () => {
    const c = loadCommonConfig({
      KAFKA_BROKERS: 'a:1, b:2',
      KAFKA_SSL: 'true',
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: 'p',
      SCHEMA_REGISTRY_URL: 'https://sr.example.com/',
      SCHEMA_REGISTRY_USERNAME: 'key',
      SCHEMA_REGISTRY_PASSWORD: 'secret',
      SCHEMA_REGISTRY_TIMEOUT_MS: '2500',
      TOPIC_RAW: 'custom.raw',
      TOPIC_PARTITIONS: '24',
      LOG_LEVEL: 'debug',
    });
    expect(c.kafka.brokers).toEqual(['a:1', 'b:2']);
    expect(c.kafka.ssl).toBe(true);
    expect(c.kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'u', password: 'p' });
    expect(c.registry).toEqual({
      url: 'https://sr.example.com',
      username: 'key',
      password: 'secret',
      requestTimeoutMs: 2500,
    });
    expect(c.topics.raw).toBe('custom.raw');
    expect(c.topics.partitions).toBe(24);
    expect(c.logLevel).toBe('debug');
  });

  it.each([
    [{ KAFKA_BROKERS: 'no-port' }, 'KAFKA_BROKERS'],
    [{ KAFKA_SSL: 'maybe' }, 'KAFKA_SSL'],
    [{ KAFKA_SASL_MECHANISM: 'gssapi' }, 'KAFKA_SASL_MECHANISM'],
    [{ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_PASSWORD: 'p' }, 'KAFKA_SASL_USERNAME'],
    [{ SCHEMA_REGISTRY_URL: 'ftp://x' }, 'SCHEMA_REGISTRY_URL'],
    [{ SCHEMA_REGISTRY_USERNAME: 'only-user' }, 'SCHEMA_REGISTRY_PASSWORD'],
    [{ TOPIC_PARTITIONS: '0' }, 'TOPIC_PARTITIONS'],
    [{ TOPIC_PARTITIONS: 'twelve' }, 'TOPIC_PARTITIONS'],
    [{ TOPIC_RAW: 'bad topic!' }, 'TOPIC_RAW'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
  ])('rejects %j naming %s', (env, variable) => {
    const err = configError(() => loadCommonConfig(env));
    expect(err.variable).toBe(variable);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.retriable).toBe(false);
    expect(err.message.startsWith(`${variable}: `)).toBe(true);
  });

  it('never echoes a secret in its errors', () => {
    const err = configError(() =>
      loadCommonConfig({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u' }),
    );
    expect(err.variable).toBe('KAFKA_SASL_PASSWORD');
  });
});

describe('deepFreeze', () => {
  it('freezes nested sections so no module can change config after start-up', () => {
    const c = deepFreeze(loadCommonConfig({}));
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.kafka)).toBe(true);
    expect(Object.isFrozen(c.kafka.brokers)).toBe(true);
    expect(() => {
      (c.kafka.brokers as string[]).push('x:1');
    }).toThrow(TypeError);
  });
});

describe('url values in errors', () => {
  it('never echoes the value, which may carry credentials', () => {
    const err = configError(() =>
      url(
        { SCHEMA_REGISTRY_URL: 'ftp://user:s3cr3t-pa55word@registry.internal/' },
        'SCHEMA_REGISTRY_URL',
        'http://x',
      ),
    );
    expect(err.message).toMatch(/SCHEMA_REGISTRY_URL/);
    expect(err.message).not.toMatch(/s3cr3t|pa55word|user/);
  });
});
