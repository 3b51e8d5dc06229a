/**
 * The real processor as a child process (`node dist/cli/index.js processor`), for the tests that must
 * `kill -9` it: an in-process processor cannot die without taking the test with it. Its stdout/stderr
 * (pino JSON lines) go to a log file the test can read back.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isObj } from '../../lib/json';
import type { TopicCollector } from './kafka';
import { logLines } from './log-lines';
import { newStateDir, type ProcessorHarness } from './processor-harness';

const ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(ROOT, 'dist/cli/index.js');

/** Plain JS preload that SIGKILLs the child inside PartitionStore.apply (see the file's header). */
const KILL_IN_STORE_APPLY = path.join(ROOT, 'test/helpers/kill-in-store-apply.js');

/** Sources whose compiled form a processor child runs; dist/ older than any of them is rebuilt. */
const PROCESSOR_SOURCES = [
  'processors/processor.ts',
  'processors/partition.ts',
  'processors/pipeline.ts',
  'processors/dependencies.ts',
  'processors/assignment/state.ts',
  'processors/assignment/takeover.ts',
  'processors/assignment/kafka-steps.ts',
  'processors/consumer/supervisor.ts',
  'processors/consumer/kafka.ts',
  'processors/deferral/lanes.ts',
  'processors/deferral/set-aside.ts',
  'processors/state/store.ts',
  'processors/state/restore.ts',
  'processors/state/changelog.ts',
  'processors/state/registry.ts',
  'processors/backfill/coordinator.ts',
  'processors/backfill/partition.ts',
  'processors/backfill/listing.ts',
  'processors/backfill/page-runner.ts',
  'cli/commands/processor.ts',
];

/** Builds dist/ when it is missing or older than the processor sources (`npm test` builds first). */
export function ensureBuilt(): void {
  const newest = PROCESSOR_SOURCES.map((f) => statSync(path.join(ROOT, f)).mtimeMs).reduce((a, b) =>
    Math.max(a, b),
  );
  const built = ['dist/processors/partition.js', 'dist/processors/state/store.js'].map((f) =>
    path.join(ROOT, f),
  );
  const fresh = () => existsSync(CLI) && built.every((f) => existsSync(f) && statSync(f).mtimeMs >= newest);
  if (fresh()) return;
  try {
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'pipe' });
  } catch (err) {
    // tsc still emits when another module in the tree has a type error; the files we run must exist.
    if (!fresh()) throw err;
  }
}

export interface ChildOptions {
  /** The environment on top of this process's. */
  env: Record<string, string>;
  /** Appended to (several children of one test share it). */
  logFile: string;
  /** A script to load before the CLI (`node -r`). */
  preload?: string;
}

export function spawnProcessor(o: ChildOptions): ChildProcess {
  const args = [...(o.preload ? ['-r', o.preload] : []), CLI, 'processor'];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(o.logFile, { flags: 'a' });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  return child;
}

/** Resolves when the child has exited (at once if it already has), with its exit code and signal. */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** SIGKILL, and wait until it is gone. */
export async function killed(child: ChildProcess): Promise<void> {
  const gone = exited(child);
  child.kill('SIGKILL');
  await gone;
}

/** SIGTERM (a graceful stop); the exit code. */
export async function stopped(child: ChildProcess): Promise<number | null> {
  const gone = exited(child);
  child.kill('SIGTERM');
  return (await gone).code;
}

/** What kill-in-store-apply.js wrote just before the kill. */
export interface KillMarker {
  pid: number;
  caller: 'partition' | 'restore';
  partition: number;
  /** The store's checkpoint when it died (null: none), and the one the lost apply would have written. */
  storeCheckpoint: string | null;
  checkpoint: string;
  dedupeIds: string[];
  versions: Array<{
    key: { grantId: string; objectType: string; objectId: string };
    version: string;
    deleted: boolean;
  }>;
}

function isKillMarker(v: unknown): v is KillMarker {
  return (
    isObj(v) &&
    typeof v.pid === 'number' &&
    (v.caller === 'partition' || v.caller === 'restore') &&
    typeof v.partition === 'number' &&
    (v.storeCheckpoint === null || typeof v.storeCheckpoint === 'string') &&
    typeof v.checkpoint === 'string' &&
    Array.isArray(v.dedupeIds) &&
    v.dedupeIds.every((id) => typeof id === 'string') &&
    Array.isArray(v.versions) &&
    v.versions.every((x) => isObj(x) && isObj(x.key) && typeof x.version === 'string')
  );
}

export function readKillMarker(file: string): KillMarker {
  const v: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!isKillMarker(v)) throw new Error(`${file} is not a kill marker: ${JSON.stringify(v)}`);
  return v;
}

export interface ProcessorChildren {
  /** The disk every child of the test shares (PROCESSOR_STATE_DIR): a restart restores only the tail. */
  readonly stateDir: string;
  /** Where kill-in-store-apply.js writes its marker. */
  readonly marker: string;
  /** The read_committed email messages topic, collected from the start. */
  out(): TopicCollector;
  logFile(name: string): string;
  /** A child on the shared disk, logging to logFile(name); with `kill`, preloaded to die by SIGKILL in
   * the `at`-th store apply called by `caller`; `env` on top of the harness's. */
  start(
    name: string,
    kill?: { at: number; caller: 'partition' | 'restore' },
    env?: Record<string, string>,
  ): ChildProcess;
  /** Stops the last child started gracefully; its exit code. */
  stop(): Promise<number | null>;
}

/**
 * Processor children for a test of `h` (registers the jest hooks: build, harness set-up and the
 * collector; the last child killed and the harness torn down at the end).
 */
export function processorChildren(h: ProcessorHarness, name: string): ProcessorChildren {
  const work = mkdtempSync(path.join(tmpdir(), `nylas-stream-${name}-`));
  const stateDir = newStateDir();
  const marker = path.join(work, 'kill-marker.json');
  let out: TopicCollector | undefined;
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    ensureBuilt();
    await h.setUp();
    out = await h.collect([h.topics.emailMessages], 'read_committed');
  }, 300_000);
  afterAll(async () => {
    if (child) await killed(child);
    await h.tearDown();
  });
  const logFile = (n: string) => path.join(work, `${n}.log`);
  return {
    stateDir,
    marker,
    logFile,
    out: () => {
      if (out === undefined) throw new Error('the collector starts in beforeAll');
      return out;
    },
    start: (n, kill, env) => {
      child = spawnProcessor({
        logFile: logFile(n),
        ...(kill ? { preload: KILL_IN_STORE_APPLY } : {}),
        env: {
          ...h.env,
          PROCESSOR_STATE_DIR: stateDir,
          // The takeover's log line says how each partition was restored.
          LOG_LEVEL: 'info',
          // A killed child's group membership lingers this long before the next one can take over.
          PROCESSOR_SESSION_TIMEOUT_MS: '6000',
          ...(kill
            ? {
                NYLAS_STREAM_TEST_KILL_AT_APPLY: String(kill.at),
                NYLAS_STREAM_TEST_KILL_CALLER: kill.caller,
                NYLAS_STREAM_TEST_KILL_MARKER: marker,
              }
            : {}),
          ...env,
        },
      });
      return child;
    },
    stop: async () => {
      const code = child ? await stopped(child) : null;
      child = undefined;
      return code;
    },
  };
}

/** The 'partitions taken over' log lines of a child, once there is one. */
export function takeovers(logFile: string): Record<string, unknown>[] | undefined {
  const lines = logLines(logFile, 'partitions taken over (fenced, state restored)');
  return lines.length > 0 ? lines : undefined;
}
