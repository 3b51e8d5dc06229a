/**
 * Runs nylas-stream services as separate OS processes (the compiled CLI), the way they run in
 * production: `nylas-stream up` supervises the ingress and the processor with it, and the end-to-end
 * tests use it to SIGTERM, SIGKILL and restart them while traffic flows.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SERVICE_ENV_DEFAULTS, serviceNodeFlags } from '../../lib/service-runtime';

/** The compiled CLI entry point (this file runs from dist/cli/up/, or from cli/up/ under ts-jest). */
export const CLI = __filename.endsWith('.js')
  ? join(__dirname, '..', 'index.js')
  : join(__dirname, '..', '..', 'dist', 'cli', 'index.js');

export interface ServiceOptions {
  /** Name for logs: "ingress", "processor-1". */
  name: string;
  /** CLI arguments, e.g. ['ingress'] or ['processor']. */
  args: string[];
  env: Record<string, string>;
  /** URL that answers 200 once the service is ready (e.g. http://127.0.0.1:3000/readyz). */
  readyUrl: string;
  logDir: string;
  readyTimeoutMs?: number;
  /** Node flags after the role's own (the last of a flag given twice wins): benchmarks trying a V8 setting. */
  nodeFlags?: readonly string[];
}

export class ServiceProcess {
  private child: ChildProcess | undefined;
  private log: WriteStream | undefined;
  lastExit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(readonly options: ServiceOptions) {
    if (!existsSync(CLI))
      throw new Error(`${CLI} is missing: run "npm run build" before the end-to-end tests`);
    mkdirSync(options.logDir, { recursive: true });
  }

  get logFile(): string {
    return join(this.options.logDir, `${this.options.name}.log`);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.options.name} is already running`);
    this.log = createWriteStream(this.logFile, { flags: 'a' });
    // Started as the image starts it: its Node flags (and the processor's heap limit), and its glibc
    // settings unless the environment has them. The flags go into the service's log, so a run says which.
    const flags = [...serviceNodeFlags(this.options.args[0]), ...(this.options.nodeFlags ?? [])];
    this.log.write(`\n==== start ${new Date().toISOString()}: node ${flags.join(' ')} ====\n`);
    const child = spawn(process.execPath, [...flags, CLI, ...this.options.args], {
      env: { ...SERVICE_ENV_DEFAULTS, ...process.env, ...this.options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    child.on('exit', (code, signal) => {
      this.lastExit = { code, signal };
    });
    this.child = child;
    const deadline = Date.now() + (this.options.readyTimeoutMs ?? 60_000);
    for (;;) {
      if (!this.running) {
        throw new Error(
          `${this.options.name} exited during start-up (${JSON.stringify(this.lastExit)}); see ${this.logFile}`,
        );
      }
      const res = await fetch(this.options.readyUrl, { signal: AbortSignal.timeout(1000) }).catch(
        () => undefined,
      );
      if (res?.status === 200) return;
      if (Date.now() > deadline)
        throw new Error(`${this.options.name} not ready at ${this.options.readyUrl}; see ${this.logFile}`);
      await sleep(100);
    }
  }

  /** SIGTERM and wait for a clean exit (graceful shutdown path). */
  async stop(timeoutMs = 30_000): Promise<void> {
    await this.signal('SIGTERM', timeoutMs);
  }

  /** SIGKILL: the process gets no chance to flush, commit or abort anything. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL', 10_000);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  private async signal(sig: NodeJS.Signals, timeoutMs: number): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(sig);
    // The timer is cleared once the child exits, so a stopped service leaves nothing keeping node alive.
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.options.name} did not exit within ${timeoutMs} ms of ${sig}`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([exited, timedOut]);
    } finally {
      clearTimeout(timer);
    }
    this.log?.write(`==== exit ${JSON.stringify(this.lastExit)} ====\n`);
  }
}
