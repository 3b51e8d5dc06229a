/**
 * The run's shared context: settings (full or --quick), the infrastructure, where logs and profiles
 * go, and the cleanup stack every started process is pushed onto, so a failed or interrupted run still
 * stops everything it started.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ServiceOptions, ServiceProcess } from '../../../cli/up/supervisor';
import { runningPid } from '../../../deploy/local/process';
import { uniqueName } from '../../helpers/names';
import type { Infra } from './infra';

export interface BenchContext {
  quick: boolean;
  /** Include the simulator's >1 MB messages (`.truncated`, expanded by the processor); default on. */
  largeMessages: boolean;
  infra: Infra;
  logDir: string;
  /** Compiled bench scripts (dist/bench/test/bench). */
  scriptDir: string;
  /** Services to run under --cpu-prof ("ingress", "processor", "bare", ...), and where profiles go. */
  profile: Set<string>;
  profileDir: string;
  /** Services whose kafkajs requests are traced (lib/kafka-trace.ts), written beside the profiles. */
  traceKafka: Set<string>;
  /** End to end: log the latency of each second and the partitions of slow events (--timeline). */
  timeline: boolean;
  /** Processor scenario: preload this many records instead of the default (--processor-records). */
  processorRecords: number | undefined;
  /** Where the processors started by the bench keep their state stores (PROCESSOR_STATE_DIR of each is a
   * directory of its own under it), so no run writes into the checkout. */
  stateDir: string;
  /** State scenario: distinct notifications processed (--state-real) and the changelog-preloaded sizes
   * (--state-sizes), instead of the defaults. */
  stateReal: number | undefined;
  stateSizes: number[] | undefined;
  /** Memory scenario: the soak's length, rate and DEDUPE_WINDOW (--soak-minutes, --soak-rate,
   * --soak-window), instead of the defaults. */
  soak: { seconds?: number; rate?: number; windowMs?: number };
  log: (line: string) => void;
  /** Stops `stop` at the end of the run (or on failure), last registered first. */
  defer(name: string, stop: () => Promise<unknown>): void;
  /** Runs and forgets the deferred stops registered under `name`. */
  release(name: string): Promise<void>;
  brokerPid(): number;
}

export function createContext(
  options: Omit<BenchContext, 'defer' | 'release' | 'brokerPid'>,
): BenchContext & { cleanup(): Promise<void> } {
  const stack: Array<{ name: string; stop: () => Promise<unknown> }> = [];
  return {
    ...options,
    defer(name, stop) {
      stack.push({ name, stop });
    },
    async release(name) {
      for (let i = stack.length - 1; i >= 0; i--) {
        const entry = stack[i];
        if (entry?.name !== name) continue;
        stack.splice(i, 1);
        await entry.stop().catch((err: unknown) => options.log(`stopping ${name}: ${String(err)}`));
      }
    },
    brokerPid() {
      return runningPid(options.infra.runtime.kafkaProc) ?? -1;
    },
    async cleanup() {
      while (stack.length > 0) {
        const entry = stack.pop();
        if (!entry) break;
        await entry.stop().catch((err: unknown) => options.log(`stopping ${entry.name}: ${String(err)}`));
      }
    },
  };
}

export { freePort } from '../../helpers/ports';

/**
 * Node flags for every processor a scenario starts, after the processor's own (serviceNodeFlags, which
 * ServiceProcess gives it as `nylas-stream up` does): BENCH_PROCESSOR_NODE_FLAGS (space-separated), to
 * measure another V8 setting in the processor alone (NODE_OPTIONS would reach the bench's driver and load
 * generators too), e.g. `--max-old-space-size=4144` for Node's own limit on the build machine. Logged per
 * processor, so a run's log says which of its figures had them.
 */
export function processorNodeFlags(ctx: BenchContext, name: string): string[] {
  const flags = (process.env.BENCH_PROCESSOR_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  if (flags.length > 0) ctx.log(`${name} gets Node flags ${flags.join(' ')}`);
  return flags;
}

/** Starts a real `nylas-stream <role>` (compiled CLI) as a child process; stopped at cleanup. */
export async function startService(
  ctx: BenchContext,
  role: string,
  options: Omit<ServiceOptions, 'logDir' | 'name'> & { name?: string },
): Promise<ServiceProcess> {
  const name = options.name ?? role;
  const env = { ...options.env };
  if (ctx.profile.has(name) || ctx.profile.has(role)) {
    // Node 20 refuses --cpu-prof in NODE_OPTIONS (24 accepts it); this preload runs the same profiler on
    // both (lib/cpu-profile.ts), kept while 20 is supported.
    env.NODE_OPTIONS = [process.env.NODE_OPTIONS, `--require ${join(ctx.scriptDir, 'lib', 'cpu-profile.js')}`]
      .filter(Boolean)
      .join(' ');
    env.BENCH_CPU_PROF_DIR = join(ctx.profileDir, name);
    ctx.log(`profiling ${name} into ${join(ctx.profileDir, name)}`);
  }
  if (ctx.traceKafka.has(name) || ctx.traceKafka.has(role)) {
    const preload = `--require ${join(ctx.scriptDir, 'lib', 'kafka-trace.js')}`;
    env.NODE_OPTIONS = [env.NODE_OPTIONS ?? process.env.NODE_OPTIONS, preload].filter(Boolean).join(' ');
    env.BENCH_KAFKA_TRACE_FILE = join(ctx.profileDir, `${name}-kafka-${Date.now()}.json`);
    ctx.log(`tracing ${name}'s Kafka requests into ${env.BENCH_KAFKA_TRACE_FILE}`);
  }
  const nodeFlags = role === 'processor' ? processorNodeFlags(ctx, name) : [];
  const service = new ServiceProcess({ ...options, name, env, logDir: ctx.logDir, nodeFlags });
  ctx.defer(name, () => service.stop(60_000).catch(() => service.kill()));
  await service.start();
  return service;
}

export interface ScriptProcess {
  pid: number;
  stop(): Promise<void>;
}

/**
 * Runs another engineer's TypeScript script the way they run it (`node test/helpers/run-ts.js <file>`)
 * and waits until `readyUrl` answers 200; stopped with SIGTERM at cleanup.
 */
export async function startScript(
  ctx: BenchContext,
  name: string,
  options: { file: string; env: Record<string, string>; readyUrl: string; execArgv?: string[] },
): Promise<ScriptProcess> {
  const root = repoRoot(ctx);
  const log = createWriteStream(join(ctx.logDir, `${name}.log`), { flags: 'a' });
  const child = spawn(
    process.execPath,
    [...(options.execArgv ?? []), join(root, 'test', 'helpers', 'run-ts.js'), join(root, options.file)],
    { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
  ctx.defer(name, stop);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`${name} exited during start-up; see ${join(ctx.logDir, `${name}.log`)}`);
    const res = await fetch(options.readyUrl, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
    if (res?.status === 200) break;
    if (Date.now() > deadline) throw new Error(`${name} not ready at ${options.readyUrl}`);
    await sleep(100);
  }
  return { pid: child.pid ?? -1, stop };
}

/** A PROCESSOR_STATE_DIR of its own under the run's state directory (pass it again for "the same disk"). */
export function newStateDir(ctx: Pick<BenchContext, 'stateDir'>, name: string): string {
  return join(ctx.stateDir, uniqueName(name));
}

/** The checkout the bench was compiled from: dist/bench/test/bench → four levels up. */
export function repoRoot(ctx: Pick<BenchContext, 'scriptDir'>): string {
  return join(ctx.scriptDir, '..', '..', '..', '..');
}
