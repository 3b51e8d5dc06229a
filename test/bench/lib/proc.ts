/**
 * CPU and memory of another process, read from /proc (Linux): CPU seconds (user + system) from
 * /proc/<pid>/stat, resident set size from /proc/<pid>/status. The bench samples the server under test
 * from outside, so the figures cost the measured process nothing.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const CLOCK_TICKS = 100; // USER_HZ on every Linux the bench runs on (getconf CLK_TCK)

/** CPU seconds used so far by `pid` (user + system), or NaN when the process is gone. */
export function cpuSeconds(pid: number): number {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).seconds;
  } catch {
    return Number.NaN;
  }
}

/** A /proc stat line (a process's or a thread's): its name and CPU seconds (user + system). */
function parseStat(stat: string): { name: string; seconds: number } {
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const close = stat.lastIndexOf(')');
  const fields = stat.slice(close + 2).split(' ');
  return {
    name: stat.slice(stat.indexOf('(') + 1, close),
    seconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS,
  };
}

/**
 * CPU seconds used so far by each thread of `pid`, summed by thread name (/proc/<pid>/task/<tid>/stat;
 * digits at the end of a name dropped, so a pool's threads count together). Node names its threads:
 * `MainThread` (the JavaScript), `V8Worker` (V8's helpers: the collector's concurrent and parallel work,
 * background compilation), `libuv-worker` (the thread pool: file system, crypto, native add-ons' async
 * work such as rocksdb-native's reads and writes); RocksDB names its own (`rocksdb:low` compactions,
 * `rocksdb:high` flushes). Empty when the process is gone. Each value is the thread's total since it
 * started: subtract an earlier reading.
 */
export function threadCpuSeconds(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = parseStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
      const name = stat.name.replace(/\d+$/, '');
      out.set(name, (out.get(name) ?? 0) + stat.seconds);
    } catch {
      // The thread ended between the listing and the read: its time is gone with it.
    }
  }
  return out;
}

/** Per thread name, the CPU seconds between two threadCpuSeconds readings. A thread that ended in between
 * takes its time with it, so a pool that shrank reads low. */
export function threadCpuSince(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>) {
  const out = new Map<string, number>();
  for (const [name, s] of after) out.set(name, s - (before.get(name) ?? 0));
  return out;
}

/** Resident set size of `pid` in bytes, or NaN when the process is gone. */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

export interface MemoryStatus {
  /** VmRSS = RssAnon + RssFile + RssShmem, MB. */
  rssMb: number;
  /** Anonymous memory (heap, native allocations), MB. */
  anonMb: number;
  /** File-backed pages resident (code, and memory-mapped files), MB. */
  fileMb: number;
}

/** `pid`'s resident memory split as /proc/<pid>/status reports it (NaN fields when the process is gone). */
export function memoryStatus(pid: number): MemoryStatus {
  let status = '';
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    // gone: every field NaN
  }
  const field = (name: string) => {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    return m ? Math.round((Number(m[1]) / 1024) * 10) / 10 : Number.NaN;
  };
  return { rssMb: field('VmRSS'), anonMb: field('RssAnon'), fileMb: field('RssFile') };
}

/** Bytes allocated on disk under `path` (files and directories, like `du -s --block-size=1`), and the
 * files' apparent size; 0 when it does not exist. */
export function diskUsage(path: string): { allocated: number; apparent: number } {
  let allocated = 0;
  let apparent = 0;
  const walk = (p: string) => {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(p);
    } catch {
      return;
    }
    allocated += st.blocks * 512;
    if (st.isDirectory()) {
      for (const name of readdirSync(p)) walk(join(p, name));
    } else apparent += st.size;
  };
  walk(path);
  return { allocated, apparent };
}

export interface ProcessUsage {
  /** Average cores used over the window (1.0 = one full core). */
  cpuCores: number;
  cpuSeconds: number;
  rssPeakMb: number;
  rssEndMb: number;
}

/** Samples one process's RSS every `intervalMs` between start() and stop(); CPU is the difference. */
export class UsageSampler {
  private timer: NodeJS.Timeout | undefined;
  private cpuStart = 0;
  private started = 0;
  private peak = 0;

  constructor(
    readonly pid: number,
    private readonly intervalMs = 100,
  ) {}

  start(): this {
    this.cpuStart = cpuSeconds(this.pid);
    this.started = performance.now();
    this.peak = rssBytes(this.pid);
    this.timer = setInterval(() => {
      const rss = rssBytes(this.pid);
      if (rss > this.peak) this.peak = rss;
    }, this.intervalMs);
    return this;
  }

  stop(): ProcessUsage {
    clearInterval(this.timer);
    const wall = (performance.now() - this.started) / 1000;
    const cpu = cpuSeconds(this.pid) - this.cpuStart;
    const end = rssBytes(this.pid);
    return {
      cpuCores: wall > 0 ? cpu / wall : Number.NaN,
      cpuSeconds: cpu,
      rssPeakMb: Math.max(this.peak, end) / 1048576,
      rssEndMb: end / 1048576,
    };
  }
}

/** One-minute load average (what else runs on this machine while we measure). */
export function loadAverage(): [number, number, number] {
  try {
    const [a, b, c] = readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number);
    return [a ?? Number.NaN, b ?? Number.NaN, c ?? Number.NaN];
  } catch {
    return [Number.NaN, Number.NaN, Number.NaN];
  }
}
