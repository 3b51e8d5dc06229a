/**
 * Finds the java and mvn the local runtime needs. Kafka 4.x needs Java 17+, Apicurio 3.3 needs 21+;
 * many machines have both a system OpenJDK 17 and a newer JDK under /usr/lib/jvm, so we look at
 * every candidate and take the first that is new enough.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MissingToolError } from '../../lib/errors';
import { LOCAL_RUNTIME_VARIABLES } from './config';

export interface JavaInstall {
  path: string;
  major: number;
  version: string;
}

function javaVersion(javaPath: string): JavaInstall | undefined {
  // `java -version` prints to stderr (and exits 0), so read both streams.
  const r = spawnSync(javaPath, ['-version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error || r.status !== 0) return undefined;
  return parseJavaVersion(javaPath, `${r.stderr}${r.stdout}`);
}

function parseJavaVersion(path: string, text: string): JavaInstall | undefined {
  const m = /version "([^"]+)"/.exec(text);
  if (!m?.[1]) return undefined;
  const v = m[1];
  const parts = v.split(/[.+-]/);
  // "1.8.0_392" is Java 8; "17.0.15" is 17.
  const major = parts[0] === '1' ? Number(parts[1]) : Number(parts[0]);
  return Number.isFinite(major) ? { path, major, version: v } : undefined;
}

function candidates(env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  if (env.JAVA_HOME) out.push(join(env.JAVA_HOME, 'bin', 'java'));
  out.push('java');
  for (const root of ['/usr/lib/jvm', '/opt/java', '/usr/java', '/Library/Java/JavaVirtualMachines']) {
    if (!existsSync(root)) continue;
    for (const d of readdirSync(root).sort().reverse()) {
      for (const sub of ['bin/java', 'Contents/Home/bin/java']) {
        const p = join(root, d, sub);
        if (existsSync(p)) out.push(p);
      }
    }
  }
  return out;
}

const cache = new Map<string, JavaInstall>();

/** The first java on this machine whose major version is at least `minMajor`. `override` (a path
 * from NYLAS_STREAM_JAVA) wins when given. */
export function findJava(
  minMajor: number,
  purpose: string,
  env = process.env,
  override?: string,
): JavaInstall {
  const list = override ? [override] : candidates(env);
  const seen: string[] = [];
  for (const c of list) {
    const info = cache.get(c) ?? javaVersion(c);
    if (!info) continue;
    cache.set(c, info);
    seen.push(`${c} (${info.version})`);
    if (info.major >= minMajor) return info;
  }
  throw new MissingToolError(
    `Java ${minMajor}+ (for ${purpose})`,
    `${seen.length ? `Found only: ${seen.join(', ')}. ` : ''}Install a JDK ${minMajor} or newer ` +
      `(for example Eclipse Temurin ${Math.max(minMajor, 21)}, or "apt-get install openjdk-${minMajor}-jre-headless" where your distribution has it), ` +
      'or point NYLAS_STREAM_JAVA at its bin/java. With Docker, `docker compose up` needs no Java at all.',
  );
}

export function findMaven(env = process.env): string {
  const mvn = LOCAL_RUNTIME_VARIABLES.mvn.read(env);
  try {
    execFileSync(mvn, ['-v'], { stdio: 'ignore', env: { ...env } });
    return mvn;
  } catch {
    throw new MissingToolError(
      'Apache Maven (mvn)',
      'It fetches Kafka and Apicurio from Maven Central into the cache once. Install it ("apt-get install maven", ' +
        '"brew install maven") or set NYLAS_STREAM_MVN to its path.',
    );
  }
}
