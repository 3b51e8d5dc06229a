/**
 * Docker cannot run on our build machines, so the compose file is checked statically: every service
 * has a healthcheck and waits on conditions, host ports match the defaults the CLI and the local
 * runtime use, and every variable we pass is one the config loaders actually read.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadIngressConfig } from '../../../ingress/config';
import { DEFAULTS, loadCommonConfig } from '../../../lib/config';
import { SERVICE_NODE_FLAGS, serviceNodeFlags } from '../../../lib/service-runtime';
import { loadProcessorConfig } from '../../../processors/config';
import { variablesReadBy } from '../../helpers/config-env';

interface Service {
  image?: string;
  build?: string;
  entrypoint?: string[];
  command?: string[];
  environment?: Record<string, string | number>;
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}

const compose = parse(readFileSync(join(__dirname, '../../../docker-compose.yml'), 'utf8'), {
  merge: true,
}) as {
  services: Record<string, Service>;
};
const services = compose.services;

function hostPort(service: Service, containerPort: number): number | undefined {
  for (const p of service.ports ?? []) {
    const parts = p.split(':');
    if (Number(parts[parts.length - 1]) === containerPort) return Number(parts[parts.length - 2]);
  }
  return undefined;
}

describe('docker-compose.yml', () => {
  it('has the whole stack', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['grafana', 'ingress', 'init', 'kafka', 'processor', 'prometheus', 'registry'].sort(),
    );
  });

  it('gives every long-running service a healthcheck and every dependency a condition', () => {
    for (const [name, svc] of Object.entries(services)) {
      if (name !== 'init') expect(svc.healthcheck?.test.length).toBeGreaterThan(0);
      for (const [dep, cond] of Object.entries(svc.depends_on ?? {})) {
        expect(services[dep]).toBeDefined();
        expect(['service_healthy', 'service_completed_successfully']).toContain(cond.condition);
      }
    }
  });

  it('publishes Kafka and the registry on the ports the local runtime and config defaults use', () => {
    const brokerPort = Number(DEFAULTS.kafkaBrokers.split(':')[1]);
    expect(hostPort(services.kafka!, brokerPort)).toBe(brokerPort);
    const advertised = String(services.kafka!.environment?.KAFKA_ADVERTISED_LISTENERS);
    expect(advertised).toContain(`EXTERNAL://${DEFAULTS.kafkaBrokers}`);
    const registryPort = Number(new URL(DEFAULTS.schemaRegistryUrl).port);
    expect(hostPort(services.registry!, 8080)).toBe(registryPort);
    expect(hostPort(services.ingress!, Number(services.ingress!.environment?.INGRESS_PORT))).toBe(
      DEFAULTS.ingressPort,
    );
    expect(Number(services.ingress!.environment?.INGRESS_PORT)).toBe(DEFAULTS.ingressPort);
    expect(hostPort(services.processor!, DEFAULTS.processorMetricsPort)).toBe(DEFAULTS.processorMetricsPort);
  });

  it('points the services at the in-network broker and registry, with values the config accepts', () => {
    for (const name of ['init', 'ingress', 'processor']) {
      const env = Object.fromEntries(
        Object.entries(services[name]!.environment ?? {}).map(([k, v]) => [k, String(v)]),
      );
      expect(env.KAFKA_BROKERS).toBe('kafka:9092');
      expect(env.SCHEMA_REGISTRY_URL).toBe('http://registry:8080/apis/ccompat/v7');
      expect(() => loadCommonConfig(env)).not.toThrow();
    }
  });

  it('passes only variables that the service reads, with values its config accepts', () => {
    const loaders: Record<string, (env: Record<string, string | undefined>) => unknown> = {
      ingress: loadIngressConfig,
      processor: loadProcessorConfig,
      init: loadCommonConfig,
    };
    for (const [name, load] of Object.entries(loaders)) {
      const known = variablesReadBy(load, { NYLAS_API_KEY: 'key' });
      const env = Object.fromEntries(
        Object.entries(services[name]!.environment ?? {}).map(([k, v]) => [k, String(v)]),
      );
      for (const variable of Object.keys(env)) {
        expect({ service: name, variable, read: known.has(variable) }).toEqual({
          service: name,
          variable,
          read: true,
        });
      }
      // Compose substitutes ${VAR:-fallback} and ${VAR:?message} from the user's environment first.
      const resolved = Object.fromEntries(
        Object.entries(env).map(([k, v]) => [
          k,
          v.replace(/^\$\{[A-Z_]+:-(.*)\}$/, '$1').replace(/^\$\{[A-Z_]+:\?.*\}$/, 'set-by-user'),
        ]),
      );
      expect(() => load(resolved)).not.toThrow();
    }
  });

  it('starts the processor with the Node flags nylas-stream gives it, the others with the image’s', () => {
    expect(services.processor!.entrypoint).toEqual([
      'node',
      ...serviceNodeFlags('processor'),
      'dist/cli/index.js',
    ]);
    expect(services.ingress!.entrypoint).toBeUndefined();
    // The image's entrypoint is ['node', ...SERVICE_NODE_FLAGS, …] (dockerfile.test.ts).
    expect(serviceNodeFlags('ingress')).toEqual(SERVICE_NODE_FLAGS);
  });

  it('keeps the registry on Kafka storage with the compatibility rule the client library expects', () => {
    const env = services.registry!.environment ?? {};
    expect(env.APICURIO_STORAGE_KIND).toBe('kafkasql');
    expect(env.APICURIO_RULES_GLOBAL_COMPATIBILITY).toBe('BACKWARD_TRANSITIVE');
  });
});
