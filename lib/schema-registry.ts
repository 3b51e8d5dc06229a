/**
 * Confluent-compatible schema registry client (Confluent, Apicurio `/apis/ccompat/v7`, Karapace).
 */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { RegistryConfig } from './config';

/**
 * The client's HTTP library (mappersmith) sets no request timeout, so a registry that accepts a request
 * and never answers held the caller forever (an e2e run of 2026-12-06 stood still for 17 minutes right
 * after the registry's last answered schema registration, and the suite with it). Every request now
 * fails after SCHEMA_REGISTRY_TIMEOUT_MS: a processor round fails and is done again, a CLI command fails
 * with REGISTRY_UNAVAILABLE.
 */
function requestTimeout(ms: number): RegistryMiddleware {
  return () => ({
    async prepareRequest(next) {
      const request = await next();
      return request.timeout() ? request : request.enhance({ timeout: ms });
    },
  });
}

/** A middleware of the client's HTTP library (mappersmith), named through the client's own types. */
type RegistryMiddleware = NonNullable<ConstructorParameters<typeof SchemaRegistry>[0]['middlewares']>[number];

export function createSchemaRegistry(config: RegistryConfig): SchemaRegistry {
  return new SchemaRegistry({
    host: config.url,
    middlewares: [requestTimeout(config.requestTimeoutMs)],
    ...(config.username !== undefined && config.password !== undefined
      ? { auth: { username: config.username, password: config.password } }
      : {}),
  });
}
