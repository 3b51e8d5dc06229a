/**
 * The slow-API deferral, in one place: the pipeline's half sets aside the objects whose expansions are
 * still pending (set-aside.ts), the partition's half keeps them as lanes between rounds, resubmits them
 * when they settle and moves the committed offset and the progress marker accordingly (lanes.ts).
 */
export { ExpansionCache } from './expansion-cache';
export { PartitionLanes, progressAfter } from './lanes';
export { type DeferredRecord, expandOrSetAside, outsideWaitingLanes, SetAside } from './set-aside';
