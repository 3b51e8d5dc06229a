/**
 * Runs a scenario (or a burst) end to end: builds the world and the generator, sends through a Sender,
 * records what was generated, and builds the oracle report.
 */
import { ConfigError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import type { Clock } from '../clock';
import { buildOracleReport, type NotificationRecord, type OracleReport, recordOf } from '../oracle';
import { type GeneratorOptions, NotificationGenerator } from '../payloads/generator';
import { Sender, type SenderOptions } from '../sender/sender';
import { World } from '../world/world';
import { SCENARIOS, scenarioNames } from './scenarios';

export interface RunScenarioOptions {
  scenario: string;
  /** An existing world (e.g. the one a running API serves), or one is created from seed/grants. */
  world?: World;
  seed?: number;
  grants?: number;
  startTime?: number;
  count: number;
  /** Destination: url + secret, or any SenderOptions (e.g. a management-API destination handle). */
  sender: SenderOptions;
  generator?: Omit<GeneratorOptions, 'world'>;
  /** Share of messages over 1 MB (→ .truncated). */
  truncationRate?: number;
  clock?: Clock;
  logger?: Logger;
  includeFinalState?: boolean;
}

export interface ScenarioRun {
  world: World;
  sender: Sender;
  records: NotificationRecord[];
  report: OracleReport;
}

export async function runScenario(options: RunScenarioOptions): Promise<ScenarioRun> {
  const scenario = SCENARIOS[options.scenario];
  if (!scenario)
    throw new ConfigError(
      'scenario',
      `unknown scenario "${options.scenario}"; one of ${scenarioNames().join(', ')}`,
    );
  const world =
    options.world ??
    new World({ seed: options.seed ?? 1, grants: options.grants ?? 10, startTime: options.startTime });
  const largeRate = options.truncationRate ?? scenario.generatorDefaults?.largeRate;
  const generator = new NotificationGenerator({
    ...options.generator,
    world,
    bodySizes: { ...options.generator?.bodySizes, ...(largeRate === undefined ? {} : { largeRate }) },
  });
  const sender = new Sender({
    ...scenario.senderDefaults,
    clock: options.clock,
    logger: options.logger,
    seed: options.seed,
    ...options.sender,
  });
  const records: NotificationRecord[] = [];
  function* recorded() {
    for (const n of scenario?.generate({ generator, count: options.count }) ?? []) {
      records.push(recordOf(n));
      yield n;
    }
  }
  try {
    const outcomes = await sender.send(recorded());
    const report = buildOracleReport({
      world,
      generated: records,
      outcomes,
      includeFinalState: options.includeFinalState,
    });
    return { world, sender, records, report };
  } finally {
    sender.close();
  }
}
