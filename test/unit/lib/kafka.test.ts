import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKafkaConfig } from '../../../lib/config';
import { ConfigError } from '../../../lib/errors';
import { kafkaJsOptions } from '../../../lib/kafka';
import { silentLogger } from '../../../lib/logger';

describe('kafkaJsOptions', () => {
  it('builds a plaintext client by default', () => {
    const o = kafkaJsOptions(loadKafkaConfig({}), silentLogger(), 'ingress');
    expect(o.brokers).toEqual(['127.0.0.1:19092']);
    expect(o.clientId).toBe('nylas-stream-ingress');
    expect(o.ssl).toBe(false);
    expect(o.sasl).toBeUndefined();
  });

  it('passes SASL SCRAM credentials and a CA file for SSL', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ns-'));
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const o = kafkaJsOptions(
      loadKafkaConfig({
        KAFKA_SSL: '1',
        KAFKA_SSL_CA_FILE: ca,
        KAFKA_SASL_MECHANISM: 'scram-sha-256',
        KAFKA_SASL_USERNAME: 'svc',
        KAFKA_SASL_PASSWORD: 'pw',
      }),
      silentLogger(),
    );
    expect(o.sasl).toEqual({ mechanism: 'scram-sha-256', username: 'svc', password: 'pw' });
    expect(o.ssl).toEqual({ ca: [expect.stringContaining('BEGIN CERTIFICATE')], rejectUnauthorized: true });
  });

  it('names KAFKA_SSL_CA_FILE when the CA cannot be read', () => {
    expect(() =>
      kafkaJsOptions(
        loadKafkaConfig({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: '/nonexistent/ca.pem' }),
        silentLogger(),
      ),
    ).toThrow(ConfigError);
  });
});
