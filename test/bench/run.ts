/**
 * `npm run bench`: starts a private Kafka + registry (local runtime instance "bench"), runs the
 * scenarios, writes test/bench/results/<date>.json (every figure) and test/bench/results/latest.md (the
 * table docs/benchmarks.md quotes), and stops everything it started — also on failure or Ctrl-C.
 *
 *   npm run bench                       full run (about 40 minutes); the committed results come from one
 *   npm run bench -- --quick            smaller counts, shorter soak (for iterating); results go to the temp dir
 *   npm run bench -- --only ingress,processor
 *   npm run bench -- --profile ingress  run that service under node --cpu-prof (profiles in the temp dir;
 *                                       summarize with node dist/bench/test/bench/profile.js <dir>)
 *   npm run bench -- --trace-kafka processor   per-API kafkajs request durations of that service (diagnostic)
 *   npm run bench -- --keep-infra       leave the bench broker and registry running afterwards
 *   npm run bench -- --quick --processor-records 100000   the processor scenario with another count
 *   npm run bench -- --timeline         end to end: log latency per second, and the partitions of slow events
 *   npm run bench -- --no-large-messages  leave the simulator's >1 MB messages (delivered `.truncated`,
 *                                       expanded through the simulated API) out of the processor,
 *                                       end-to-end and soak traffic
 *   npm run bench -- --only state --state-real 0 --state-sizes 10000000
 *                                       the state scenario with other sizes (processed notifications;
 *                                       dedupe ids preloaded through the changelog, comma-separated)
 *   npm run bench -- --only memory --soak-minutes 60 --soak-rate 500 --soak-window 10m
 *                                       the soak's length, rate and DEDUPE_WINDOW
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDuration } from '../../lib/config/duration';
import { createContext, repoRoot } from './lib/context';
import { machineInfo, startInfra } from './lib/infra';
import { loadAverage } from './lib/proc';
import { type BenchResult, type LoadSnapshot, markdown, targetChecks } from './lib/report';
import { runEndToEnd } from './scenarios/end-to-end';
import { runIngress } from './scenarios/ingress';
import { runMemory } from './scenarios/memory';
import { runProcessor } from './scenarios/processor';
import { runState } from './scenarios/state';

const SCENARIOS = ['ingress', 'processor', 'e2e', 'memory', 'state'] as const;
type ScenarioName = (typeof SCENARIOS)[number];

interface Flags {
  quick: boolean;
  largeMessages: boolean;
  only: Set<ScenarioName>;
  profile: Set<string>;
  traceKafka: Set<string>;
  keepInfra: boolean;
  timeline: boolean;
  processorRecords: number | undefined;
  stateReal: number | undefined;
  stateSizes: number[] | undefined;
  soak: { seconds?: number; rate?: number; windowMs?: number };
}

/** A whole number ≥ 0 given to `flag`, or an error naming it. */
function count(flag: string, text: string): number {
  const n = Number(text.replaceAll('_', ''));
  if (!Number.isInteger(n) || n < 0) throw new Error(`${flag}: not a whole number: ${text}`);
  return n;
}

function parseFlags(argv: string[]): Flags {
  const flags: Flags = {
    quick: false,
    largeMessages: true,
    only: new Set(SCENARIOS),
    profile: new Set(),
    traceKafka: new Set(),
    keepInfra: false,
    timeline: false,
    processorRecords: undefined,
    stateReal: undefined,
    stateSizes: undefined,
    soak: {},
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') flags.quick = true;
    else if (a === '--keep-infra') flags.keepInfra = true;
    else if (a === '--timeline') flags.timeline = true;
    else if (a === '--processor-records') flags.processorRecords = Number(value());
    else if (a === '--no-large-messages') flags.largeMessages = false;
    else if (a === '--state-real') flags.stateReal = count(a, value());
    else if (a === '--state-sizes')
      flags.stateSizes = value()
        .split(',')
        .filter((v) => v !== '')
        .map((v) => count(a, v));
    else if (a === '--soak-minutes') {
      const v = value();
      const minutes = Number(v);
      if (!(minutes > 0)) throw new Error(`--soak-minutes: not a positive number: ${v}`);
      flags.soak.seconds = Math.round(minutes * 60);
    } else if (a === '--soak-rate') flags.soak.rate = count(a, value());
    else if (a === '--soak-window') {
      const v = value();
      const ms = parseDuration(v, 's');
      if (ms === undefined || ms <= 0) throw new Error(`--soak-window: not a duration: ${v}`);
      flags.soak.windowMs = ms;
    } else if (a === '--only') {
      const names = value().split(',');
      for (const n of names)
        if (!SCENARIOS.includes(n as ScenarioName))
          throw new Error(`--only: unknown scenario "${n}" (one of ${SCENARIOS.join(', ')})`);
      flags.only = new Set(names as ScenarioName[]);
    } else if (a === '--profile') flags.profile = new Set(value().split(','));
    else if (a === '--trace-kafka') flags.traceKafka = new Set(value().split(','));
    else throw new Error(`unknown flag ${a}`);
  }
  return flags;
}

function stamp(d: Date): string {
  return d.toISOString().slice(0, 16).replace(':', '-');
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const started = new Date();
  const work = join(tmpdir(), 'nylas-stream-bench', stamp(started));
  const logDir = join(work, 'logs');
  mkdirSync(logDir, { recursive: true });
  const log = (line: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
  const load: LoadSnapshot[] = [];
  const snapshot = (phase: string) => {
    const entry = { at: new Date().toISOString(), phase, loadAverage: loadAverage() };
    load.push(entry);
    log(`load average ${entry.loadAverage.join(' ')} (${phase})`);
  };
  snapshot('start');
  log(`${flags.quick ? 'quick' : 'full'} run: ${[...flags.only].join(', ')}; logs in ${logDir}`);

  const infra = await startInfra(log);
  const ctx = createContext({
    quick: flags.quick,
    largeMessages: flags.largeMessages,
    infra,
    logDir,
    scriptDir: __dirname,
    profile: flags.profile,
    profileDir: join(work, 'profiles'),
    traceKafka: flags.traceKafka,
    timeline: flags.timeline,
    processorRecords: flags.processorRecords,
    stateDir: join(work, 'state'),
    stateReal: flags.stateReal,
    stateSizes: flags.stateSizes,
    soak: flags.soak,
    log,
  });
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    log('interrupted: stopping everything the bench started');
    void ctx
      .cleanup()
      .then(() => infra.stop(!flags.keepInfra))
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const partial: Omit<BenchResult, 'targets'> = {
    date: started.toISOString(),
    mode: flags.quick ? 'quick' : 'full',
    machine: machineInfo(infra.runtime),
    load,
    durationSeconds: 0,
  };
  try {
    if (flags.only.has('ingress')) {
      snapshot('ingress');
      partial.ingress = await runIngress(ctx);
    }
    if (flags.only.has('processor')) {
      snapshot('processor');
      partial.processor = await runProcessor(ctx, flags.largeMessages);
      // The same mix without the >1 MB messages: what expansion costs, and the pipeline alone.
      // A quick run measures only the mix asked for (with or without the >1 MB messages).
      if (flags.largeMessages && !flags.quick) partial.processorWithoutLarge = await runProcessor(ctx, false);
    }
    if (flags.only.has('e2e')) {
      snapshot('end-to-end');
      partial.endToEnd = await runEndToEnd(ctx);
    }
    if (flags.only.has('memory')) {
      snapshot('memory');
      partial.memory = await runMemory(ctx);
    }
    if (flags.only.has('state')) {
      snapshot('state');
      partial.state = await runState(ctx);
    }
    snapshot('end');
  } finally {
    await ctx.cleanup();
    await infra.stop(!flags.keepInfra);
  }
  partial.durationSeconds = Math.round((Date.now() - started.getTime()) / 1000);
  const result: BenchResult = { ...partial, targets: targetChecks(partial) };

  const complete = !flags.quick && flags.only.size === SCENARIOS.length;
  const outDir = complete ? join(repoRoot(ctx), 'test', 'bench', 'results') : join(work, 'results');
  mkdirSync(outDir, { recursive: true });
  const jsonFile = join(outDir, `${stamp(started)}.json`);
  writeFileSync(jsonFile, `${JSON.stringify(result, null, 2)}\n`);
  const md = markdown(result);
  writeFileSync(join(outDir, 'latest.md'), `${md}\n`);
  console.log(md);
  log(
    `results: ${jsonFile} and ${join(outDir, 'latest.md')}${complete ? '' : ' (not a full run: kept out of test/bench/results)'}`,
  );
  for (const t of result.targets) log(`target ${t.holds ? 'holds' : 'MISSED'}: ${t.target}: ${t.measured}`);
}

main().then(
  // Everything started is stopped by now; kafkajs can leave timers behind.
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
