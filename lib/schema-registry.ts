/**
 * Confluent-compatible schema registry client (Confluent, Apicurio `/apis/ccompat/v7`, Karapace).
 */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { RegistryConfig } from './config';

export function createSchemaRegistry(config: RegistryConfig): SchemaRegistry {
  return new SchemaRegistry({
    host: config.url,
    ...(config.username !== undefined && config.password !== undefined
      ? { auth: { username: config.username, password: config.password } }
      : {}),
  });
}
