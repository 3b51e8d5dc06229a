/**
 * Which environment variables a config loader reads: for the deploy tests (docker-compose, the Helm
 * chart), which check that every variable a deployment sets is one the service really reads.
 */

/** Runs a config loader against an env that records which variables it reads. */
export function variablesReadBy(
  load: (env: Record<string, string | undefined>) => unknown,
  required: Record<string, string> = {},
): Set<string> {
  const read = new Set<string>();
  const env = new Proxy({} as Record<string, string | undefined>, {
    get: (_t, key) => {
      if (typeof key !== 'string') return undefined;
      read.add(key);
      return required[key];
    },
  });
  load(env);
  return read;
}
