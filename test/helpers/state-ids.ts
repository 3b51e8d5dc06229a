/** The ids a round's state changes would write to the changelog (dedupe ids, object key parts). */
import type { StateChange } from '../../processors/state/store';

export function stateIdsOf(changes: readonly StateChange[]): string[] {
  return changes.flatMap((c) =>
    c.kind === 'dedupe'
      ? [c.id]
      : c.kind === 'version'
        ? [c.key.grantId, c.key.objectType, c.key.objectId]
        : [],
  );
}
