/**
 * Fetches the broker jars and the registry distribution from Maven Central with Maven, once, into the
 * cache. Each fetch writes to a `.partial` folder and renames it when complete, so an interrupted
 * download is never mistaken for a good cache.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ErrorCodes, NylasStreamError } from '../../lib/errors';

const run = promisify(execFile);

export interface FetchOptions {
  cacheDir: string;
  mvn: string;
  dependencyPlugin: string;
  log: (line: string) => void;
}

function kafkaPom(kafka: string, log4j2: string): string {
  // Kafka's POM leaves out the log4j2 binding that its release tarball ships (see versions.ts), so it is
  // declared here; without it the broker runs but its logs are silent.
  return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>nylas-stream.local</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${kafka}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>${log4j2}</version></dependency>
  </dependencies>
</project>
`;
}

async function mvn(opts: FetchOptions, args: string[], what: string): Promise<void> {
  try {
    await run(opts.mvn, ['-q', '-B', ...args], { maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new NylasStreamError(
      ErrorCodes.INFRA_START_FAILED,
      `Maven could not fetch ${what} from Maven Central. Check network access to the Maven repository ` +
        `(or a mirror in ~/.m2/settings.xml).\n${(e.stdout ?? '') + (e.stderr ?? '') || e.message}`,
    );
  }
}

/** Returns the folder of broker jars (classpath `<dir>/*`). */
export async function ensureKafkaLibs(opts: FetchOptions, kafka: string, log4j2: string): Promise<string> {
  const dir = join(opts.cacheDir, `kafka-${kafka}`);
  const libs = join(dir, 'libs');
  if (existsSync(libs) && readdirSync(libs).some((f) => f.startsWith(`kafka_2.13-${kafka}`))) return libs;
  opts.log(`fetching Apache Kafka ${kafka} broker jars from Maven Central (once, ~45 MB)…`);
  mkdirSync(dir, { recursive: true });
  const pom = join(dir, 'pom.xml');
  writeFileSync(pom, kafkaPom(kafka, log4j2));
  const partial = `${libs}.partial`;
  rmSync(partial, { recursive: true, force: true });
  await mvn(
    opts,
    [
      '-f',
      pom,
      `org.apache.maven.plugins:maven-dependency-plugin:${opts.dependencyPlugin}:copy-dependencies`,
      `-DoutputDirectory=${partial}`,
      '-DincludeScope=runtime',
    ],
    `org.apache.kafka:kafka_2.13:${kafka}`,
  );
  rmSync(libs, { recursive: true, force: true });
  renameSync(partial, libs);
  return libs;
}

/** Returns the folder holding Apicurio's quarkus-run.jar. */
export async function ensureApicurio(opts: FetchOptions, version: string): Promise<string> {
  const dir = join(opts.cacheDir, `apicurio-${version}`);
  if (existsSync(join(dir, 'quarkus-run.jar'))) return dir;
  opts.log(`fetching Apicurio Registry ${version} from Maven Central (once, 159 MB)…`);
  const partial = `${dir}.partial`;
  // Without a POM, unpack keeps its "already unpacked" markers under a literal `${project.basedir}/target`
  // in the current directory, and skips the unpack next time it finds one (an empty cache would then stay
  // empty). Keep them in a scratch folder of the cache that is cleared on every attempt.
  const markers = `${dir}.markers`;
  rmSync(partial, { recursive: true, force: true });
  rmSync(markers, { recursive: true, force: true });
  await mvn(
    opts,
    [
      `org.apache.maven.plugins:maven-dependency-plugin:${opts.dependencyPlugin}:unpack`,
      `-Dartifact=io.apicurio:apicurio-registry-app:${version}:tar.gz:all`,
      `-DoutputDirectory=${partial}`,
      `-DmarkersDirectory=${markers}`,
    ],
    `io.apicurio:apicurio-registry-app:${version}:tar.gz:all`,
  );
  if (!existsSync(join(partial, 'quarkus-run.jar'))) {
    throw new NylasStreamError(
      ErrorCodes.INFRA_START_FAILED,
      `Apicurio ${version} unpacked without quarkus-run.jar`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
  rmSync(markers, { recursive: true, force: true });
  return dir;
}
