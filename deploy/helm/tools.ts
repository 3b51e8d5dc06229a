/**
 * The tools the Helm chart's tests use, built offline from the Go module proxy (no cluster, no schema
 * downloads) into the cache, once, and reused afterwards:
 *
 * - helm (`helm.sh/helm/v4/cmd/helm@v4.3.2`, `go install` of the released module: its own go.mod and
 *   the checksum database pin every dependency) in `<cache>/tools/helm-v4.3.2/helm`;
 * - the manifest validator (deploy/helm/validate, go.mod and go.sum in the repository: k8s.io/api and
 *   prometheus-operator's monitoring types) in `<cache>/tools/validate-<hash of its source>/validate`.
 *
 * `<cache>` is NYLAS_STREAM_CACHE_DIR, else `$XDG_CACHE_HOME/nylas-stream` (`~/.cache/nylas-stream`), as
 * for the local runtime. Builds run under `nice -n 19`; each goes to a temporary directory renamed into
 * place, so concurrent test runs never see half a tool. Without `go` it fails, saying what to install.
 *
 *   node test/helpers/run-ts.js deploy/helm/tools.ts     # build if needed, print the paths
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const HELM_MODULE = 'helm.sh/helm/v4';
export const HELM_VERSION = 'v4.3.2';
/** The Go this was written and measured with; go.mod of the validator says `go 1.26.0`. */
export const GO_REQUIRED = '1.26';
export const VALIDATOR_SOURCE = join(__dirname, 'validate');

export interface HelmTools {
  helm: string;
  validate: string;
  /** What was built now (empty when everything came from the cache), with seconds each. */
  built: { tool: string; seconds: number }[];
}

export function toolsDir(env: NodeJS.ProcessEnv = process.env): string {
  const cache =
    env.NYLAS_STREAM_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'nylas-stream');
  return join(cache, 'tools');
}

/** `go` on PATH, else the official tarball's /usr/local/go/bin/go; else a loud error. */
export function findGo(
  env: NodeJS.ProcessEnv = process.env,
  candidates: string[] = ['go', '/usr/local/go/bin/go'],
): string {
  for (const candidate of candidates) {
    try {
      execFileSync(candidate, ['version'], { stdio: 'pipe', env });
      return candidate;
    } catch {
      // next
    }
  }
  throw new Error(
    `go is required by the Helm chart tests and was not found (on PATH or in /usr/local/go/bin): they build ` +
      `helm ${HELM_VERSION} and the manifest validator (deploy/helm/validate) from the Go module proxy. ` +
      `Install Go ${GO_REQUIRED} or newer (the official tarball from go.dev/dl into /usr/local/go, or your ` +
      "distribution's package if it is that new) and put it on PATH. Nothing is skipped without it.",
  );
}

/** A short hash of the validator's sources: a changed validator is rebuilt, an unchanged one reused. */
export function validatorHash(): string {
  const hash = createHash('sha256');
  for (const name of readdirSync(VALIDATOR_SOURCE).sort()) {
    if (name === 'go.mod' || name === 'go.sum' || name.endsWith('.go')) {
      hash
        .update(name)
        .update('\0')
        .update(readFileSync(join(VALIDATOR_SOURCE, name)))
        .update('\0');
    }
  }
  return hash.digest('hex').slice(0, 12);
}

function buildInto(dir: string, binary: string, build: (tmp: string) => void): number | undefined {
  const target = join(dir, binary);
  if (existsSync(target)) return undefined;
  mkdirSync(join(dir, '..'), { recursive: true });
  const tmp = mkdtempSync(`${dir}.building-`);
  const started = Date.now();
  try {
    build(tmp);
    if (!existsSync(join(tmp, binary))) throw new Error(`the build left no ${binary} in ${tmp}`);
    try {
      renameSync(tmp, dir);
    } catch (err) {
      // Another run finished the same build first: keep theirs.
      if (!existsSync(target)) throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return (Date.now() - started) / 1000;
}

function run(go: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, what: string): void {
  try {
    // nice: builds must not take CPU from whatever else runs on the machine (benchmarks, the suite).
    execFileSync('nice', ['-n', '19', go, ...args], { cwd, env, stdio: 'pipe', maxBuffer: 64 << 20 });
  } catch (err) {
    const e = err as { stdout?: Buffer; stderr?: Buffer; message: string };
    throw new Error(
      `building ${what} failed (${go} ${args.join(' ')}): ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}\n` +
        'The build needs the Go module proxy (GOPROXY) or a module cache that already holds the modules.',
    );
  }
}

export function ensureHelmTools(
  env: NodeJS.ProcessEnv = process.env,
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): HelmTools {
  const root = toolsDir(env);
  const helmDir = join(root, `helm-${HELM_VERSION}`);
  const validateDir = join(root, `validate-${validatorHash()}`);
  const built: HelmTools['built'] = [];
  const needed = !existsSync(join(helmDir, 'helm')) || !existsSync(join(validateDir, 'validate'));
  const go = needed ? findGo(env) : 'go';
  const goEnv = { ...env, GOFLAGS: '-mod=readonly' };

  const helmSeconds = buildInto(helmDir, 'helm', (tmp) => {
    log(
      `building helm ${HELM_VERSION} from the Go module proxy into ${helmDir} (once; several minutes cold)`,
    );
    run(
      go,
      [
        'install',
        `-ldflags=-X ${HELM_MODULE}/internal/version.version=${HELM_VERSION}`,
        `${HELM_MODULE}/cmd/helm@${HELM_VERSION}`,
      ],
      tmp,
      { ...env, GOBIN: tmp },
      `helm ${HELM_VERSION}`,
    );
  });
  if (helmSeconds !== undefined) built.push({ tool: `helm-${HELM_VERSION}`, seconds: helmSeconds });

  const validateSeconds = buildInto(validateDir, 'validate', (tmp) => {
    log(`building the manifest validator (deploy/helm/validate) into ${validateDir}`);
    run(
      go,
      ['build', '-trimpath', '-o', join(tmp, 'validate'), '.'],
      VALIDATOR_SOURCE,
      goEnv,
      'the validator',
    );
  });
  if (validateSeconds !== undefined) built.push({ tool: 'validate', seconds: validateSeconds });

  for (const b of built) log(`built ${b.tool} in ${b.seconds.toFixed(0)} s`);
  return { helm: join(helmDir, 'helm'), validate: join(validateDir, 'validate'), built };
}

export function main(): number {
  const tools = ensureHelmTools();
  console.log(`helm      ${tools.helm}`);
  console.log(`validate  ${tools.validate}`);
  return 0;
}
