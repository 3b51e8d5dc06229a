/**
 * The bench's own child processes (load generator, baseline servers, memory probes): forked Node
 * scripts that talk over IPC. A child says `{ kind: 'ready', ... }` when it can take work; the parent
 * sends requests `{ id, ... }` and gets `{ id, result }` or `{ id, error }` back. Output goes to a log
 * file per child. Every child is registered with the run's cleanup so a failed run stops it too.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';

export interface ChildOptions {
  name: string;
  /** Compiled script (dist/bench/test/bench/...js). */
  script: string;
  env?: Record<string, string>;
  execArgv?: string[];
  logDir: string;
  readyTimeoutMs?: number;
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

export class BenchChild {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** What the child said when it became ready (e.g. its URL). */
  readyInfo: Record<string, unknown> = {};

  constructor(readonly options: ChildOptions) {}

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  get logFile(): string {
    return join(this.options.logDir, `${this.options.name}.log`);
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<this> {
    const log = createWriteStream(this.logFile, { flags: 'a' });
    const child = fork(this.options.script, [], {
      env: { ...process.env, ...this.options.env },
      execArgv: this.options.execArgv ?? [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child = child;
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.options.name} not ready; see ${this.logFile}`)),
        this.options.readyTimeoutMs ?? 60_000,
      );
      child.on('message', (raw: unknown) => {
        const msg = raw as { kind?: string; id?: number; result?: unknown; error?: string };
        if (msg.kind === 'ready') {
          clearTimeout(timer);
          this.readyInfo = msg as Record<string, unknown>;
          resolve();
          return;
        }
        if (typeof msg.id !== 'number') return;
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        if (msg.error !== undefined) p.reject(new Error(`${this.options.name}: ${msg.error}`));
        else p.resolve(msg.result);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        const err = new Error(`${this.options.name} exited (${code ?? signal}); see ${this.logFile}`);
        reject(err);
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      });
    });
    await ready;
    return this;
  }

  /** Sends a request and waits for its answer. */
  request<T>(message: Record<string, unknown>): Promise<T> {
    const child = this.child;
    if (!child || !this.running) return Promise.reject(new Error(`${this.options.name} is not running`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ ...message, id });
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

/** The child side: answers requests with `handler`, says ready with `info`. */
export function serveParent(
  handler: (message: Record<string, unknown>) => Promise<unknown>,
): (info?: Record<string, unknown>) => void {
  process.on('message', (raw: unknown) => {
    const msg = raw as Record<string, unknown> & { id: number };
    handler(msg).then(
      (result) => process.send?.({ id: msg.id, result }),
      (err: unknown) => process.send?.({ id: msg.id, error: (err as Error)?.stack ?? String(err) }),
    );
  });
  // The parent going away (crash, Ctrl-C) must not leave a child behind.
  process.on('disconnect', () => process.exit(0));
  return (info = {}) => process.send?.({ kind: 'ready', ...info });
}
