/**
 * What the no-Docker runtime fetches from Maven Central. Change versions here (or with the
 * variables in runtime-config.ts) and the next `npm start` fetches them into the cache.
 */
export const RUNTIME_VERSIONS = {
  /** Apache Kafka broker (KRaft). 4.1.x runs on Java 17+ and still speaks every protocol version
   * kafkajs 2.2.4 uses (proved by test/integration/foundation.test.ts). */
  kafka: '4.1.2',
  /** The SLF4J 1.x → log4j2 binding; it must be the log4j2 version Kafka 4.1 itself depends on,
   * because Kafka's published POM leaves the binding out (it ships only in the release tarball). */
  log4j2: '2.24.3',
  /** Apicurio Registry with the Confluent-compatible API at /apis/ccompat/v7. 3.3.x needs Java 21+
   * (3.1.x, the last Java 17 line, is not served by every Maven mirror; 3.3.3 is, with its parent POM). */
  apicurio: '3.3.3',
  /** The Maven plugin used to fetch; pinned so a fresh machine resolves exactly the same thing. */
  dependencyPlugin: '3.8.1',
} as const;

export const MIN_JAVA = { kafka: 17, apicurio: 21 } as const;
