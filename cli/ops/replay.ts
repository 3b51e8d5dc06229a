/**
 * `replay`: reads what the plan needs from Kafka (committed offsets, log bounds, offsets by time),
 * refuses while the group has members, and applies the plan with the admin API.
 */
import type { Admin, Kafka } from 'kafkajs';
import { type OffsetRange, readToEnd } from '../../lib/read-to-end';
import { type AcceptWindow, recordBeyondWindow } from '../../processors/stages/window';
import { OpsRefusal } from './errors';
import { changedRows, type PartitionState, type ReplayPlan, type ReplayTarget } from './replay-plan';

export interface GroupActivity {
  state: string;
  members: number;
}

export async function groupActivity(admin: Admin, groupId: string): Promise<GroupActivity> {
  const { groups } = await admin.describeGroups([groupId]);
  const g = groups.find((x) => x.groupId === groupId);
  return { state: g?.state ?? 'Dead', members: g?.members.length ?? 0 };
}

/** Topics the group has committed offsets for (its subscription, as far as Kafka remembers it). */
export async function committedTopics(admin: Admin, groupId: string): Promise<string[]> {
  const offsets = await admin.fetchOffsets({ groupId });
  return offsets
    .filter((t) => t.partitions.some((p) => Number(p.offset) >= 0))
    .map((t) => t.topic)
    .sort();
}

export async function gatherPartitionStates(
  admin: Admin,
  groupId: string,
  topics: string[],
  target: ReplayTarget,
): Promise<PartitionState[]> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t));
  if (missing.length > 0) throw new OpsRefusal(`no such topic: ${missing.join(', ')}`);
  const out: PartitionState[] = [];
  for (const topic of topics) {
    const bounds = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const byTime =
      target.kind === 'datetime' ? await admin.fetchTopicOffsetsByTimestamp(topic, target.at) : undefined;
    for (const b of bounds) {
      const c = committed?.partitions.find((p) => p.partition === b.partition);
      const t = byTime?.find((p) => p.partition === b.partition);
      out.push({
        topic,
        partition: b.partition,
        committed: c === undefined || Number(c.offset) < 0 ? null : Number(c.offset),
        low: Number(b.low),
        high: Number(b.high),
        ...(t !== undefined ? { atTimestamp: Number(t.offset) } : {}),
      });
    }
  }
  return out;
}

/** Refuses unless the group is empty: a running member would overwrite the reset with its own commit. */
export async function assertGroupInactive(admin: Admin, groupId: string): Promise<void> {
  const a = await groupActivity(admin, groupId);
  if (a.members > 0) {
    throw new OpsRefusal(
      `consumer group "${groupId}" has ${a.members} active member(s) (state ${a.state}); stop its consumers first, then run replay again`,
    );
  }
}

/** Writes the plan's changed offsets (the group must be empty; checked again right before). */
export async function executeReplay(admin: Admin, plan: ReplayPlan): Promise<number> {
  await assertGroupInactive(admin, plan.groupId);
  const rows = changedRows(plan);
  const topics = [...new Set(rows.map((r) => r.topic))];
  for (const topic of topics) {
    await admin.setOffsets({
      groupId: plan.groupId,
      topic,
      partitions: rows
        .filter((r) => r.topic === topic)
        .map((r) => ({ partition: r.partition, offset: String(r.target) })),
    });
  }
  return rows.length;
}

/**
 * The plan with, on each row of `topic` (the processor's raw topic), how many of the records to
 * reprocess the processor would now refuse as BEYOND_WINDOW (processors/stages/window.ts). Reads those
 * records: the envelope time is in the body, and the log's timestamps say when they arrived, not that.
 */
export async function countBeyondWindow(
  kafka: Kafka,
  admin: Admin,
  plan: ReplayPlan,
  topic: string,
  w: AcceptWindow,
  now: number = Date.now(),
): Promise<ReplayPlan> {
  const ranges: OffsetRange[] = [];
  for (const r of plan.rows)
    if (r.topic === topic && r.reprocess > 0 && r.current !== null)
      ranges.push({ partition: r.partition, start: r.target, end: r.current });
  const counts = new Map<number, number>();
  if (ranges.length > 0) {
    await readToEnd(kafka, admin, { topic, ranges }, (partition, m) => {
      if (recordBeyondWindow(m, now, w) !== undefined)
        counts.set(partition, (counts.get(partition) ?? 0) + 1);
    });
  }
  return {
    ...plan,
    rows: plan.rows.map((r) =>
      r.topic === topic ? { ...r, beyondWindow: counts.get(r.partition) ?? 0 } : r,
    ),
  };
}
