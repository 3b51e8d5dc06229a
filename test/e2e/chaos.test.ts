/**
 * End-to-end guarantees under faults (issue 6): the simulator sends a seeded scenario through the real,
 * separately running ingress and processors on a private Kafka + registry, while the fault schedule
 * restarts the ingress, SIGKILLs a processor mid-transaction, adds a second processor, and takes the
 * broker and the registry away for ~10 s each. Afterwards the committed domain topics and DLQ are
 * compared with the simulator's oracle (harness/verdict.ts defines lost, duplicated, non-monotone and the
 * final-state check), a summary table is printed, and any loss figure other than 0 fails the test.
 *
 * Profiles (harness/profile.ts): `short` inside `npm test`, `full` via `npm run test:chaos`.
 */

import { createWorld } from '../../simulator';
import { FaultSchedule, type FaultStep } from './harness/faults';
import { E2ePipeline } from './harness/pipeline';
import { e2eProfile } from './harness/profile';
import { judgeRun, lossFigures, NO_LOSS, waitUntilDrained } from './harness/run';
import type { TrafficRun } from './harness/traffic';
import { summaryTable, type Verdict } from './harness/verdict';

const profile = e2eProfile();
// Generous: a 2-core machine shared with other test runs; the JVMs alone take a minute to start.
jest.setTimeout(profile.name === 'full' ? 3_600_000 : 1_500_000);

const log = (line: string) => console.log(`[e2e ${new Date().toISOString().slice(11, 19)}] ${line}`);

describe(`end to end under faults (${profile.name} profile: ${profile.count} notifications, ${profile.grants} grants, seed ${profile.seed})`, () => {
  const pipeline = new E2ePipeline({ partitions: profile.partitions, log });
  const started = Date.now();
  let run: TrafficRun | undefined;
  let steps: FaultStep[] = [];
  let verdict: Verdict | undefined;

  beforeAll(async () => {
    await pipeline.startInfrastructure();
    log(
      `infrastructure ready in ${((Date.now() - started) / 1000).toFixed(0)} s (${pipeline.runtime.brokers}, ${pipeline.runtime.registryUrl})`,
    );
  });

  afterAll(async () => {
    const keep = process.env.NYLAS_STREAM_E2E_KEEP === '1';
    await pipeline.teardown(keep);
    log(`torn down${keep ? ' (data kept for inspection)' : ''}; service logs were in ${pipeline.logDir}`);
  });

  it('loses nothing, duplicates nothing, keeps every object monotone and ends in the final state', async () => {
    // The seed makes the run reproducible; the clock starts an hour ago, because the processor refuses
    // envelope times beyond ACCEPT_WINDOW (a fixed date would age out of it, as 2026-01-01 did).
    const startTime = Math.floor(Date.now() / 1000) - 3600;
    const world = createWorld({ seed: profile.seed, grants: profile.grants, startTime });
    await pipeline.startApi(world);
    pipeline.defineServices();
    await pipeline.start(pipeline.ingress);
    await pipeline.start(pipeline.processors[0]!);

    let generated = 0;
    const traffic = pipeline.send({
      world,
      seed: profile.seed,
      count: profile.count,
      ratePerSecond: profile.ratePerSecond,
      largeRate: profile.largeRate,
      timeScale: profile.timeScale,
      notFoundEvery: profile.notFoundEvery,
      rateLimitedEvery: profile.rateLimitedEvery,
      onGenerated: (n) => {
        generated = n;
      },
    });
    const schedule = new FaultSchedule(pipeline, () => generated / profile.count, log);
    const progress = setInterval(() => log(`progress: ${generated}/${profile.count} generated`), 30_000);
    try {
      // Both must finish; a failing fault step must not leave the sender running unobserved.
      const [t, s] = await Promise.allSettled([traffic, schedule.run()]);
      if (s.status === 'rejected') throw s.reason;
      if (t.status === 'rejected') throw t.reason;
      run = t.value;
      steps = s.value;
    } finally {
      clearInterval(progress);
    }
    log(`traffic sent in ${((run.finishedAt - run.startedAt) / 1000).toFixed(0)} s`);

    await waitUntilDrained(pipeline);
    log('drained; reading the domain topics, the DLQ and the raw topic (read_committed)');
    const judged = await judgeRun(pipeline, run);
    verdict = judged.verdict;
    const notFoundServed = judged.notFoundServed;

    const minutes = ((Date.now() - started) / 60_000).toFixed(1);
    const timeline = [
      'fault timeline:',
      ...steps.map(
        (s) =>
          `  +${s.at.toFixed(0)} s (${(s.progress * 100).toFixed(0)} %) ${s.what} [${s.seconds} s]: ${s.detail}`,
      ),
      ...pipeline.events
        .filter((e) => /unexpectedly|during start-up|gave up/.test(e.what))
        .map((e) => `  ! +${((e.at - run!.startedAt) / 1000).toFixed(0)} s ${e.service}: ${e.what}`),
      `service exits nobody asked for: ${pipeline.unexpectedExits} while running, ${pipeline.failedStartups} during start-up (each started again by the harness, as an orchestrator would)`,
      `injected API faults: ${run.injected.notFound.size} × 404, ${run.injected.rateLimited.size} × 429 (Retry-After 1 s, twice), ${run.injected.beyondDeadline.size} × 429 beyond the expansion deadline; the API served ${[...notFoundServed.values()].reduce((a, b) => a + b, 0)} × 404 for ${notFoundServed.size} messages`,
    ].join('\n');
    console.log(
      `${summaryTable(verdict, `end-to-end summary — ${profile.name} profile, seed ${profile.seed}, scenario ${run.scenario}, ${minutes} min in total`)}\n${timeline}`,
    );

    expect(steps.map((s) => s.what)).toHaveLength(5);
    expect(lossFigures(verdict)).toEqual(NO_LOSS);
    // The run exercised what it claims to: retries, truncation, the DLQ, and final-state comparisons.
    expect(verdict.retried).toBeGreaterThan(0);
    expect(verdict.expanded).toBeGreaterThan(0);
    expect(verdict.finalChecked).toBeGreaterThan(profile.grants);
  });
});
