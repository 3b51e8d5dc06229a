/**
 * Unknown variables: a name with a prefix a section owns (INGRESS_, PROCESSOR_, KAFKA_, …) that no
 * declaration of that section has is most likely a typo (KAFKA_BROKER for KAFKA_BROKERS) that would
 * otherwise silently leave the default in force. They are warned about, never refused: KAFKA_ and
 * SCHEMA_REGISTRY_ are also the prefixes of Kafka's and registries' own images, and an environment
 * shared with them (a compose file, a Kubernetes namespace) must still start.
 */
import type { ConfigSection } from './declare';
import type { Env } from './readers';

export interface UnknownVariable {
  name: string;
  /** The closest declared name, when one is close enough to be the intended one. */
  didYouMean: string | undefined;
}

/**
 * Kubernetes adds `<SERVICE>_SERVICE_HOST`, `<SERVICE>_SERVICE_PORT…`, `<SERVICE>_PORT=tcp://…` and
 * `<SERVICE>_PORT_<n>_<PROTO>…` for every service of the namespace: a service named kafka or ingress
 * produces them under our prefixes without anyone having set them.
 */
function isServiceLink(name: string, value: string): boolean {
  if (/_SERVICE_HOST$|_SERVICE_PORT(_[A-Z0-9_]+)?$|_PORT_\d+_(TCP|UDP|SCTP)(_PROTO|_PORT|_ADDR)?$/.test(name))
    return true;
  return /_PORT$/.test(name) && /^(tcp|udp|sctp):\/\//.test(value);
}

/** Levenshtein distance (insertions, deletions, substitutions). */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The declared name nearest to `name`, if within a quarter of its length (at least 2 edits). */
export function closestName(name: string, known: readonly string[]): string | undefined {
  const limit = Math.max(2, Math.floor(name.length / 4));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of known) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** The variables of `env` under the sections' prefixes that none of the sections declares. */
export function unknownVariables(env: Env, sections: readonly ConfigSection[]): UnknownVariable[] {
  const known = sections.flatMap((s) => s.variables.map((v) => v.name));
  const prefixes = sections.flatMap((s) => s.prefixes);
  const unknown: UnknownVariable[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || known.includes(name)) continue;
    if (!prefixes.some((p) => name.startsWith(p)) || isServiceLink(name, value)) continue;
    unknown.push({ name, didYouMean: closestName(name, known) });
  }
  return unknown.sort((a, b) => a.name.localeCompare(b.name));
}

export interface WarningLogger {
  warn(details: object, message: string): void;
}

/** Logs one warning per unknown variable (at start-up) and returns them. */
export function warnUnknownVariables(
  env: Env,
  sections: readonly ConfigSection[],
  logger: WarningLogger,
): UnknownVariable[] {
  const unknown = unknownVariables(env, sections);
  for (const { name, didYouMean } of unknown) {
    const hint = didYouMean === undefined ? '' : `; did you mean ${didYouMean}?`;
    logger.warn(
      { variable: name, didYouMean },
      `unknown variable ${name} is ignored${hint} (docs/configuration.md lists the variables)`,
    );
  }
  return unknown;
}
