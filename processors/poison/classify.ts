/**
 * Telling a broker's bad moment from a record's own fault, for round-failures.ts. Only the first may be
 * retried for ever; the second must end in a dead letter after a bounded number of attempts.
 */
import { errorMessage } from '../../lib/errors';
import { isTransientKafkajsError } from '../../lib/kafkajs/errors';
import type { FailureKind } from './round-failures';

/** Where in a round the failure happened. */
export type RoundPhase = 'pipeline' | 'commit';

/** A round's failure, with what the tracker needs to know about the round. */
export class RoundFailure extends Error {
  constructor(
    readonly phase: RoundPhase,
    /** Offsets of the records the round held. */
    readonly offsets: readonly bigint[],
    /** The offset after the last record the round took. */
    readonly takenThrough: bigint,
    cause: unknown,
  ) {
    super(`round failed in ${phase}: ${errorMessage(cause)}`, { cause });
    this.name = 'RoundFailure';
  }
}

/**
 * A failure of the pipeline is always countable: the stages touch neither Kafka nor the network (the
 * Nylas API calls retry inside the expander and end in an outcome), so what fails there fails again.
 * A failure of the commit is transient when anything in its cause chain is a kafkajs error the client
 * itself would retry (it ran out of retries: the broker is away) or a connection-level error
 * (lib/kafkajs/errors.ts); a non-retriable protocol error (MESSAGE_TOO_LARGE, INVALID_RECORD, …) or a
 * plain exception is countable.
 */
export function classifyRoundFailure(err: unknown): FailureKind {
  const phase = err instanceof RoundFailure ? err.phase : 'commit';
  if (phase === 'pipeline') return 'countable';
  if (isTransientKafkajsError(err instanceof RoundFailure ? err.cause : err)) return 'transient';
  return 'countable';
}
