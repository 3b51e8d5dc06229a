/**
 * The kafkajs version the run-time adaptations (lib/kafkajs/) were written against and tested with.
 * Each replaces a kafkajs internal, so each applies only when the installed kafkajs is exactly this one
 * (package.json pins it); on any other version kafkajs runs as published and the adaptation reports
 * itself inactive.
 */
export const PINNED_KAFKAJS_VERSION = '2.2.4';

export function installedKafkajsVersion(): string {
  const pkg: unknown = require('kafkajs/package.json');
  const version = typeof pkg === 'object' && pkg !== null ? Reflect.get(pkg, 'version') : undefined;
  return typeof version === 'string' ? version : 'unknown';
}
