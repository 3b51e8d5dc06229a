/**
 * Background JVM processes for the local runtime: spawned detached with their output in a log file,
 * remembered by PID file, and stopped by PID — but only after checking that the PID still belongs
 * to the process we started (a marker system property on its command line), so a stale PID file can
 * never kill an unrelated process that reused the number.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ManagedProcess {
  /** Shown in messages: "kafka", "registry". */
  name: string;
  pidFile: string;
  logFile: string;
  /** A string that appears on the command line of exactly this process (e.g. -Dnylas.stream.instance=…). */
  marker: string;
}

export function spawnDetached(
  proc: ManagedProcess,
  command: string,
  args: string[],
  env?: NodeJS.ProcessEnv,
): number {
  mkdirSync(dirname(proc.logFile), { recursive: true });
  mkdirSync(dirname(proc.pidFile), { recursive: true });
  const fd = openSync(proc.logFile, 'a');
  try {
    const child = spawn(command, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: env ?? process.env,
    });
    if (child.pid === undefined) throw new Error(`could not start ${proc.name} (${command})`);
    child.unref();
    writeFileSync(proc.pidFile, String(child.pid));
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

function cmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The PID of our running process, or undefined (no PID file, process gone, or PID reused). */
export function runningPid(proc: ManagedProcess): number | undefined {
  if (!existsSync(proc.pidFile)) return undefined;
  const pid = Number(readFileSync(proc.pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return undefined;
  const cl = cmdline(pid);
  // Where /proc is missing (macOS) we cannot check the marker; trust the PID file.
  if (cl !== undefined && !cl.includes(proc.marker)) return undefined;
  return pid;
}

/** SIGTERM, wait up to `graceMs` for a clean exit (Kafka flushes its logs), then SIGKILL. */
export async function stopProcess(
  proc: ManagedProcess,
  graceMs = 20_000,
): Promise<'stopped' | 'killed' | 'not-running'> {
  const pid = runningPid(proc);
  if (pid === undefined) {
    rmSync(proc.pidFile, { force: true });
    return 'not-running';
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!alive(pid)) {
      rmSync(proc.pidFile, { force: true });
      return 'stopped';
    }
    await sleep(100);
  }
  process.kill(pid, 'SIGKILL');
  while (alive(pid)) await sleep(50);
  rmSync(proc.pidFile, { force: true });
  return 'killed';
}

/** Sends SIGKILL at once (fault-injection tests: a broker that dies without a clean shutdown). */
export async function killProcess(proc: ManagedProcess): Promise<void> {
  const pid = runningPid(proc);
  if (pid === undefined) return;
  process.kill(pid, 'SIGKILL');
  while (alive(pid)) await sleep(50);
  rmSync(proc.pidFile, { force: true });
}

export function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Polls `ready` until it returns true; fails early with the log tail if the process died. */
export async function waitUntilReady(
  proc: ManagedProcess,
  ready: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await ready().catch(() => false)) return;
    if (runningPid(proc) === undefined) {
      throw new Error(
        `${proc.name} exited during start-up. Last lines of ${proc.logFile}:\n${tail(proc.logFile)}`,
      );
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${proc.name} was not ready after ${timeoutMs} ms. Last lines of ${proc.logFile}:\n${tail(proc.logFile)}`,
      );
    }
    await sleep(250);
  }
}
