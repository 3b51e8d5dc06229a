/**
 * The result file (every figure, JSON) and the Markdown table docs/benchmarks.md quotes.
 */
import type { EndToEndResult } from '../scenarios/end-to-end';
import { type IngressResult, SERVER_LABELS, SERVERS } from '../scenarios/ingress';
import type { MemoryResult } from '../scenarios/memory';
import type { DrainSummary, ProcessorResult } from '../scenarios/processor';
import type { ProcessedResult, ProcessorStart, StateResult } from '../scenarios/state';
import type { MachineInfo } from './infra';
import { median } from './stats';

export interface LoadSnapshot {
  at: string;
  phase: string;
  loadAverage: [number, number, number];
}

export interface BenchResult {
  date: string;
  mode: 'full' | 'quick';
  machine: MachineInfo;
  /** Load average (1, 5, 15 min) at the start and end of each scenario. */
  load: LoadSnapshot[];
  durationSeconds: number;
  ingress?: IngressResult;
  processor?: ProcessorResult;
  /** The processor scenario again without the >1 MB messages (no expansion). */
  processorWithoutLarge?: ProcessorResult;
  endToEnd?: EndToEndResult;
  memory?: MemoryResult;
  state?: StateResult;
  targets: TargetCheck[];
}

export interface TargetCheck {
  target: string;
  measured: string;
  holds: boolean;
}

const fmt = (v: number, digits = 0) =>
  Number.isFinite(v)
    ? v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : 'n/a';

export function targetChecks(r: Omit<BenchResult, 'targets'>): TargetCheck[] {
  const out: TargetCheck[] = [];
  if (r.ingress) {
    const m = r.ingress.burst.ingress.median;
    out.push({
      target: 'ingress ≥ 3× the naive baseline (burst requests/s, medians)',
      measured: `${fmt(r.ingress.ratios.toNaive, 2)}×`,
      holds: r.ingress.ratios.toNaive >= 3,
    });
    out.push({
      target: `${fmt(r.ingress.settings.burstCount)} burst fully acknowledged, zero non-200`,
      measured: `${m.allAcknowledged ? 'all acknowledged' : 'not all acknowledged'}, ${m.non200Total} non-200 over ${r.ingress.settings.reps} runs`,
      holds: m.allAcknowledged && m.non200Total === 0,
    });
    out.push({
      target: 'burst p99 < 250 ms',
      measured: `${fmt(m.p99, 1)} ms (median of runs)`,
      holds: m.p99 < 250,
    });
  }
  if (r.processor) {
    out.push({
      target: 'processor ≥ 0.6× the transactional passthrough (stock kafkajs)',
      measured: `${fmt(r.processor.ratio, 2)}×${r.processor.allAccounted ? '' : ' (NOT every notification accounted for)'}`,
      holds: r.processor.ratio >= 0.6 && r.processor.allAccounted,
    });
    if (r.processorWithoutLarge) {
      out.push({
        target: '(same, without the >1 MB messages: no expansion)',
        measured: `${fmt(r.processorWithoutLarge.ratio, 2)}×`,
        holds: r.processorWithoutLarge.ratio >= 0.6 && r.processorWithoutLarge.allAccounted,
      });
    }
  }
  if (r.endToEnd) {
    out.push({
      target: 'end-to-end p99 < 1 s at 1,000/s',
      measured: `${fmt(r.endToEnd.latencyMs.p99)} ms`,
      holds: r.endToEnd.latencyMs.p99 < 1000,
    });
  }
  if (r.state) {
    const st = r.state;
    const largest = st.preloaded[st.preloaded.length - 1];
    const rssFigures: Array<[string, number]> = [];
    if (st.processed) {
      const p = st.processed;
      rssFigures.push(
        [`${fmt(p.notifications)} processed, after the drain`, p.afterDrain.memory.rssMb],
        ['its full restore', Math.max(p.full.rssPeakMb, p.full.memory.rssMb)],
      );
      out.push({
        target: `re-sent notifications after ${fmt(p.notifications)} distinct ones all recognised as duplicates`,
        measured: `${fmt(p.resend.duplicates)} of ${fmt(p.resend.sent)} duplicates, ${fmt(p.resend.emitted)} emitted, ${fmt(p.resend.domainRecordsAdded)} new on the domain topic`,
        holds: p.resend.allRecognised,
      });
    }
    for (const x of st.preloaded) {
      rssFigures.push([`${fmt(x.entries)} preloaded, full restore peak`, x.full.rssPeakMb]);
      rssFigures.push([
        `${fmt(x.entries)} preloaded, after`,
        Math.max(x.full.memory.rssMb, x.tail.memory.rssMb),
      ]);
    }
    const worst = rssFigures.reduce<[string, number]>((a, b) => (b[1] > a[1] ? b : a), ['none', 0]);
    out.push({
      target: 'processor RSS ≤ 512 MB with every state size',
      measured: `highest ${fmt(worst[1])} MB (${worst[0]})`,
      holds: rssFigures.every(([, mb]) => mb <= 512),
    });
    if (largest) {
      out.push({
        target: `restart restore (tail, same disk) ≤ 10 s at ${fmt(largest.entries)} entries`,
        measured: `${fmt(largest.tail.restore.seconds, 2)} s (ready ${fmt(largest.tail.readySeconds, 1)} s after the spawn)`,
        holds: largest.tail.restore.seconds <= 10,
      });
      out.push({
        target: 'restored state recognises the preloaded notification ids',
        measured: st.preloaded
          .map(
            (x) =>
              `${fmt(x.entries)}: ${fmt(x.probe.duplicates)}/${fmt(x.probe.preloadedSent)} duplicates, ${fmt(x.probe.emitted)}/${fmt(x.probe.newSent)} new emitted`,
          )
          .join('; '),
        holds: st.preloaded.every((x) => x.probe.answered),
      });
    }
  }
  return out;
}

/** One start's row cells: restore mode, seconds, entries/s, ready, RSS peak, RSS/anon/file after, heap. */
function startCells(x: ProcessorStart): string {
  const mode = x.restore.partitions.full > 0 ? 'full' : 'tail';
  return [
    mode,
    fmt(x.restore.seconds, 2),
    fmt(x.restore.entries),
    fmt(x.restore.entriesPerSecond),
    fmt(x.storeEntries),
    fmt(x.storeEntriesPerSecond),
    fmt(x.readySeconds, 1),
    fmt(x.rssPeakMb),
    `${fmt(x.memory.rssMb)} / ${fmt(x.memory.anonMb)} / ${fmt(x.memory.fileMb)}`,
    fmt(x.heapUsedMb),
  ].join(' | ');
}

function stateMarkdown(st: StateResult, lines: string[]): void {
  lines.push(
    `## State at scale: processor memory, disk and restore (${st.settings.partitions} partitions, DEDUPE_WINDOW ${fmt(st.settings.windowMs / 3_600_000)} h)`,
  );
  lines.push('');
  const p = st.processed;
  if (p) {
    lines.push(
      `Processed: ${fmt(p.notifications)} distinct \`message.created\` notifications (each a dedupe id and an object version) drained by one processor in ${fmt(p.drainSeconds)} s (${fmt(p.eventsPerSecond)}/s, RSS peak ${fmt(p.drainRssPeakMb)} MB). ` +
        `After the drain: RSS ${fmt(p.afterDrain.memory.rssMb)} MB (anon ${fmt(p.afterDrain.memory.anonMb)}, file ${fmt(p.afterDrain.memory.fileMb)}), heap used ${fmt(p.afterDrain.heapUsedMb)} MB of ${fmt(p.afterDrain.heapTotalMb)} MB, external ${fmt(p.afterDrain.externalMb)} MB; ` +
        `store ${fmt(p.afterDrain.store.entries.dedupe)} dedupe ids + ${fmt(p.afterDrain.store.entries.version)} versions, ${fmt(p.afterDrain.store.diskBytes / 1048576)} MB on disk, ${fmt(p.afterDrain.store.bytesPerEntry)} bytes per entry. ` +
        `${idleText(p)} ` +
        `Re-sent ${fmt(p.resend.sent)} of them: ${fmt(p.resend.duplicates)} duplicates, ${fmt(p.resend.emitted)} emitted, ${fmt(p.resend.domainRecordsAdded)} records added to the domain topic (${p.resend.allRecognised ? 'all recognised' : '**not all recognised**'}).`,
    );
    lines.push('');
  }
  if (st.preloaded.length > 0) {
    lines.push(
      `Preloaded: ${st.preloaded.map((x) => fmt(x.entries)).join(' and ')} dedupe ids written straight into the state topic as the processor's own changelog bucket records (time-compressed: **restored, not processed**), then restored by a processor on an empty directory, killed and restarted on the same one; then ${fmt(st.settings.probePreloaded)} preloaded and ${fmt(st.settings.probeNew)} new notification ids sent through the raw topic.`,
    );
    lines.push('');
    lines.push(
      '| entries | disk MB | bytes/entry | preloaded ids answered as duplicates | new ids emitted |',
    );
    lines.push('|---:|---:|---:|---:|---:|');
    for (const x of st.preloaded)
      lines.push(
        `| ${fmt(x.entries)} | ${fmt(x.store.diskBytes / 1048576)} | ${fmt(x.store.bytesPerEntry)} | ${fmt(x.probe.duplicates)} / ${fmt(x.probe.preloadedSent)} | ${fmt(x.probe.emitted)} / ${fmt(x.probe.newSent)} |`,
      );
    lines.push('');
  }
  lines.push(
    '| state | start | restore | restore s | entries applied | applied/s | entries in the store | store entries/s | ready s (spawn → restored) | RSS peak MB | RSS / anon / file MB after | heap MB |',
  );
  lines.push('|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|');
  if (p) {
    lines.push(`| ${fmt(p.notifications)} processed | restart, same disk | ${startCells(p.tail)} |`);
    lines.push(`| ${fmt(p.notifications)} processed | new, empty disk | ${startCells(p.full)} |`);
  }
  for (const x of st.preloaded) {
    lines.push(`| ${fmt(x.entries)} preloaded | new, empty disk | ${startCells(x.full)} |`);
    lines.push(`| ${fmt(x.entries)} preloaded | restart, same disk | ${startCells(x.tail)} |`);
  }
  lines.push('');
  lines.push(
    'Restarts follow a SIGKILL; "ready" includes waiting for the killed member\'s session to expire (PROCESSOR_SESSION_TIMEOUT_MS ' +
      `${fmt(st.settings.sessionTimeoutMs / 1000)} s here), the restore figures do not. RSS anon is the heap and native memory, RSS file the pages of the memory-mapped stores (and code) the kernel keeps resident and may drop.`,
  );
  lines.push('');
}

export function markdown(r: BenchResult): string {
  const lines: string[] = [];
  const m = r.machine;
  const loads = r.load.map((l) => `${l.phase} ${l.loadAverage[0].toFixed(2)}`).join(', ');
  lines.push(`# nylas-stream benchmarks (${r.mode} run)`);
  lines.push('');
  lines.push(
    `Measured ${r.date} on ${m.cpuCount} × ${m.cpuModel}, Node ${m.node}, kafkajs ${m.kafkajs}, ${m.kafka} and ${m.registry} on the same machine. ` +
      `1-minute load average: ${loads}. Run took ${Math.round(r.durationSeconds / 60)} min. Regenerate with \`npm run bench\`.`,
  );
  lines.push('');
  if (r.ingress) {
    const i = r.ingress;
    const s = i.settings;
    lines.push(
      `## Ingress: ${fmt(s.burstCount)}-notification burst (${fmt(s.payloadBytes)}-byte signed \`event.updated\`, ${s.grants} grants, ${s.concurrency} keep-alive connections; median of ${s.reps} runs)`,
    );
    lines.push('');
    lines.push(
      '| server | requests/s | vs naive | p50 ms | p99 ms | p99.9 ms | non-200 | CPU (cores) | RSS peak MB | knee (sustained req/s) |',
    );
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    const naive = i.burst['naive-express'].median.rps;
    for (const name of SERVERS) {
      const b = i.burst[name].median;
      lines.push(
        `| ${SERVER_LABELS[name]} | ${fmt(b.rps)} | ${fmt(b.rps / naive, 2)}× | ${fmt(b.p50, 1)} | ${fmt(b.p99, 1)} | ${fmt(b.p999, 1)} | ${b.non200Total} | ${fmt(b.cpuCores, 2)} | ${fmt(b.rssPeakMb)} | ${i.sweep[name].kneeRps > 0 ? fmt(i.sweep[name].kneeRps) : 'below first step'} |`,
      );
    }
    lines.push('');
    lines.push(
      `Ingress ÷ bare node:http ceiling: ${fmt(i.ratios.toBare, 2)}×. Knee: the highest open-loop rate (steps of ${s.sweepSeconds} s) answered in full (every request 200) with p99 < ${s.p99TargetMs} ms, latency counted from the scheduled send time.`,
    );
    lines.push('');
    lines.push(`| offered req/s | ${SERVERS.map((n) => `${n}: req/s, p99 ms`).join(' | ')} |`);
    lines.push(`|---:|${SERVERS.map(() => '---:').join('|')}|`);
    for (const rate of s.sweepRates) {
      const cells = SERVERS.map((n) => {
        const step = i.sweep[n].steps.find((x) => x.offeredRps === rate);
        return step ? `${fmt(step.load.rps)}, ${fmt(step.load.latencyMs.p99)}` : '—';
      });
      if (cells.every((c) => c === '—')) continue;
      lines.push(`| ${fmt(rate)} | ${cells.join(' | ')} |`);
    }
    lines.push('');
  }
  if (r.processor) {
    const p = r.processor;
    const pre = p.preload;
    lines.push(
      `## Processor: ${fmt(pre.records)} raw notifications (simulator mix, ${fmt(pre.duplicates)} duplicates, ${fmt(pre.reordered)} reordered, ${pre.truncated} truncated; ${p.settings.partitions} partitions; median of ${p.settings.reps} runs)`,
    );
    lines.push('');
    lines.push('| pipeline | events/s | vs passthrough | vs tuned passthrough | CPU (cores) | RSS peak MB |');
    lines.push('|---|---:|---:|---:|---:|---:|');
    // An empty ratio cell (the other baseline's column) is written `| |`.
    const row = (label: string, d: DrainSummary, vsStock: string, vsTuned: string) =>
      `| ${label} | ${fmt(d.medianEventsPerSecond)} | ${vsStock} | ${vsTuned} | ${fmt(d.medianCpuCores, 2)} | ${fmt(d.medianRssPeakMb)} |`.replaceAll(
        '|  |',
        '| |',
      );
    const ratios = (x: ProcessorResult) => [`${fmt(x.ratio, 2)}×`, `${fmt(x.ratioTuned, 2)}×`] as const;
    lines.push(
      row(
        'nylas-stream processor (decode, dedupe, order, expand, Avro; exactly-once per partition)',
        p.processor,
        ...ratios(p),
      ),
      row(
        'baseline: kafkajs transactional passthrough (stock kafkajs 2.2.4; same bytes + sendOffsets)',
        p.passthrough,
        '1.00×',
        '',
      ),
      row(
        "reference: the same passthrough on the processor's kafkajs client (the kafkajs adaptations, lib/kafkajs/)",
        p.tunedPassthrough,
        '',
        '1.00×',
      ),
    );
    const w = r.processorWithoutLarge;
    if (w) {
      lines.push(
        row(
          `processor, same mix without the >1 MB messages (${fmt(w.preload.records)} records, no expansion)`,
          w.processor,
          ...ratios(w),
        ),
        row('baseline: stock passthrough over that topic', w.passthrough, '1.00×', ''),
        row('reference: tuned passthrough over that topic', w.tunedPassthrough, '', '1.00×'),
      );
    }
    lines.push('');
    const last = p.processor.runs[p.processor.runs.length - 1];
    lines.push(
      `Every run: ${p.allAccounted ? 'all' : '**not all**'} ${fmt(pre.records)} notifications accounted for (last run: ${Object.entries(
        last?.outcomes ?? {},
      )
        .map(([k, v]) => `${k} ${fmt(v)}`)
        .join(
          ', ',
        )}); start-up (join, fencing, restore) not counted, median ${fmt(median(p.processor.runs.map((x) => x.startupSeconds)), 1)} s.`,
    );
    lines.push('');
  }
  if (r.endToEnd) {
    const e = r.endToEnd;
    lines.push(
      `## End to end: simulator → ingress → processor at ${fmt(e.settings.rate)}/s for ${e.settings.seconds} s (ingress receipt → domain event visible to a read_committed consumer)`,
    );
    lines.push('');
    lines.push(
      '| sent/s | non-200 | domain events | p50 ms | p99 ms | p99.9 ms | max ms | CPU ingress / processor / broker | transactions/s |',
    );
    lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    lines.push(
      `| ${fmt(e.load.rps)} | ${e.load.non200} | ${fmt(e.events)} | ${fmt(e.latencyMs.p50)} | ${fmt(e.latencyMs.p99)} | ${fmt(e.latencyMs.p999)} | ${fmt(e.latencyMs.max)} | ${fmt(e.ingress.cpuCores, 2)} / ${fmt(e.processor.cpuCores, 2)} / ${fmt(e.broker.cpuCores, 2)} | ${fmt(e.transactionsPerSecond)} |`,
    );
    lines.push('');
    lines.push(
      `Measured after ${e.settings.warmUpSeconds} s at the full rate right after the services started (not counted above): during that cold start p50 ${fmt(e.warmUpLatencyMs.p50)} ms, p99 ${fmt(e.warmUpLatencyMs.p99)} ms, max ${fmt(e.warmUpLatencyMs.max)} ms.`,
    );
    lines.push('');
    lines.push(
      `Where the time goes (the services' own histograms): ingress receipt → Kafka ack p50 ${fmt(e.breakdown.ingressAckP50)} ms, p99 ${fmt(e.breakdown.ingressAckP99)} ms; ingress receipt → processor commit p50 ${fmt(e.breakdown.processorEndToEndP50)} ms, p99 ${fmt(e.breakdown.processorEndToEndP99)} ms (interpolated within histogram buckets). ${fmt(e.generated.truncated)} of the notifications were \`.truncated\`: ${fmt(e.breakdown.expansions)} Nylas API calls, p50 ${fmt(e.breakdown.expansionP50)} ms, p99 ${fmt(e.breakdown.expansionP99)} ms (the simulated API runs in the load generator's process; its own time per call p50 ${fmt(e.breakdown.apiServerMs.p50)} ms, p99 ${fmt(e.breakdown.apiServerMs.p99)} ms); the same object's later notifications wait behind its pending expansion (order per object), other objects wait at most EXPANSION_DEFER_AFTER. Processor rounds, p50/p99 ms per phase: ${Object.entries(
        e.breakdown.roundPhasesMs,
      )
        .map(([k, v]) => `${k} ${fmt(v.p50)}/${fmt(v.p99)}`)
        .join(', ')} (one after the other in each transaction).`,
    );
    lines.push('');
  }
  if (r.memory) {
    const mem = r.memory;
    const so = mem.soak;
    lines.push(
      `## Memory: processor state, and a ${Math.round(mem.settings.soakSeconds / 60)}-minute soak at ${mem.settings.soakRate}/s (DEDUPE_WINDOW ${mem.settings.dedupeWindowSeconds}s so state plateaus; slope fitted after ${so.warmupSeconds} s)`,
    );
    lines.push('');
    lines.push(
      `State: **${mem.state.bytesPerDedupeId} bytes per dedupe id** (${fmt(mem.state.dedupeIds)} ids, heap delta after GC, id string included), ${mem.state.bytesPerVersion} bytes per object version (${fmt(mem.state.versions)} versions); ` +
        `on disk ${mem.state.diskBytesPerDedupeId} bytes per dedupe id and ${mem.state.diskBytesPerVersion} per object version (${fmt(mem.state.storeDiskMb)} MB, hot-set cache of ${fmt(mem.state.cacheEntries)} entries).`,
    );
    lines.push('');
    lines.push('| process | RSS start MB | RSS end MB | RSS max MB | RSS slope MB/min | heap slope MB/min |');
    lines.push('|---|---:|---:|---:|---:|---:|');
    lines.push(
      `| ingress | ${fmt(so.ingressRss.startMb)} | ${fmt(so.ingressRss.endMb)} | ${fmt(so.ingressRss.maxMb)} | ${fmt(so.ingressRss.slopeMbPerMin, 2)} | ${fmt(so.ingressHeap.slopeMbPerMin, 2)} |`,
    );
    lines.push(
      `| processor | ${fmt(so.processorRss.startMb)} | ${fmt(so.processorRss.endMb)} | ${fmt(so.processorRss.maxMb)} | ${fmt(so.processorRss.slopeMbPerMin, 2)} | ${fmt(so.processorHeap.slopeMbPerMin, 2)} |`,
    );
    lines.push('');
    lines.push(
      `Processor state on disk (du of its PROCESSOR_STATE_DIR): start ${fmt(so.processorDisk.startMb)} MB, end ${fmt(so.processorDisk.endMb)} MB, max ${fmt(so.processorDisk.maxMb)} MB, slope ${fmt(so.processorDisk.slopeMbPerMin, 2)} MB/min after ${so.warmupSeconds} s; sampled every ${mem.settings.sampleSeconds} s. Processor outcomes: ${Object.entries(
        so.outcomes,
      )
        .map(([k, v]) => `${k} ${fmt(v)}`)
        .join(', ')}.`,
    );
    lines.push('');
  }
  if (r.state) stateMarkdown(r.state, lines);
  if (r.targets.length > 0) {
    lines.push('## Targets');
    lines.push('');
    lines.push('| target | measured | holds |');
    lines.push('|---|---|---|');
    for (const t of r.targets) lines.push(`| ${t.target} | ${t.measured} | ${t.holds ? 'yes' : '**no**'} |`);
    lines.push('');
  }
  return lines.join('\n');
}

/** The state scenario's figure once the processor had idled (older results have none). */
function idleText(p: ProcessedResult): string {
  if (!p.idle) return '';
  if (p.idle.releasedAfterSeconds === undefined)
    return `No idle memory release was logged within 30 s of the drain (RSS then ${fmt(p.idle.memory.rssMb)} MB).`;
  return `Idle: the processor gave V8's pooled heap pages back ${fmt(p.idle.releasedAfterSeconds)} s after the drain; RSS then ${fmt(p.idle.memory.rssMb)} MB (anon ${fmt(p.idle.memory.anonMb)}).`;
}
