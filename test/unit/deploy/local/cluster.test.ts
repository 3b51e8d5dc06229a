import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalRuntime, runtimeEnv, runtimeOptionsFromEnv } from '../../../../deploy/local/runtime';

function runtime(env: Record<string, string>, brokerCount?: number): LocalRuntime {
  const cacheDir = mkdtempSync(join(tmpdir(), 'runtime-layout-'));
  return new LocalRuntime(
    runtimeOptionsFromEnv(
      { LOCAL_RUNTIME_INSTANCE: 'layout', ...env },
      { cacheDir, log: () => undefined, ...(brokerCount ? { brokerCount } : {}) },
    ),
  );
}

const props = (r: LocalRuntime, id: number) =>
  Object.fromEntries(r.serverProperties(r.node(id)).map((l) => l.split('=', 2) as [string, string]));

describe('local runtime layout (no JVM started)', () => {
  it('keeps the single broker exactly where it always was', () => {
    const r = runtime({});
    expect(r.nodes).toHaveLength(1);
    expect(r.brokers).toBe('127.0.0.1:29092');
    expect(r.kafkaProc.pidFile).toBe(join(r.dir, 'kafka.pid'));
    expect(r.kafkaProc.logFile).toBe(join(r.dir, 'logs', 'kafka.log'));
    expect(r.kafkaProc.marker).toBe('-Dnylas.stream.instance=layout.kafka');
    const p = props(r, 1);
    expect(p['controller.quorum.voters']).toBe('1@127.0.0.1:29093');
    expect(p['log.dirs']).toBe(join(r.dir, 'kafka-data'));
    expect(p['offsets.topic.replication.factor']).toBe('1');
    expect(p['transaction.state.log.min.isr']).toBe('1');
    expect(p['default.replication.factor']).toBeUndefined();
    expect(r.replicationFactor).toBe(1);
    expect(runtimeEnv(r, {})).toEqual({ KAFKA_BROKERS: r.brokers, SCHEMA_REGISTRY_URL: r.registryUrl });
  });

  it('makes three brokers with their own ports, folders and markers, and a 3-voter quorum', () => {
    const r = runtime({ LOCAL_KAFKA_BROKER_COUNT: '3' });
    expect(r.brokers).toBe('127.0.0.1:29092,127.0.0.1:29102,127.0.0.1:29112');
    const dirs = new Set(r.nodes.map((n) => n.dir));
    const markers = r.nodes.map((n) => n.proc.marker);
    expect(dirs.size).toBe(3);
    for (const m of markers) expect(markers.filter((x) => x.includes(m))).toEqual([m]);
    for (const n of r.nodes) {
      const p = props(r, n.id);
      expect(p['node.id']).toBe(String(n.id));
      expect(p['controller.quorum.voters']).toBe('1@127.0.0.1:29093,2@127.0.0.1:29103,3@127.0.0.1:29113');
      expect(p.listeners).toBe(`PLAINTEXT://127.0.0.1:${n.port},CONTROLLER://127.0.0.1:${n.controllerPort}`);
      expect(p).toMatchObject({
        'default.replication.factor': '3',
        'min.insync.replicas': '2',
        'offsets.topic.replication.factor': '3',
        'transaction.state.log.replication.factor': '3',
        'transaction.state.log.min.isr': '2',
        'unclean.leader.election.enable': 'false',
      });
    }
    expect(runtimeEnv(r, {})).toMatchObject({ TOPIC_REPLICATION_FACTOR: '3' });
    // An explicit choice of the caller wins.
    expect(runtimeEnv(r, { TOPIC_REPLICATION_FACTOR: '2' }).TOPIC_REPLICATION_FACTOR).toBeUndefined();
  });

  it('remembers the broker count an instance was started with (stop and status find every broker)', () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'runtime-layout-'));
    const dir = join(cacheDir, 'instances', 'remembered');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'brokers'), '3\n');
    const o = runtimeOptionsFromEnv({ LOCAL_RUNTIME_INSTANCE: 'remembered' }, { cacheDir });
    expect(o.brokerCount).toBe(3);
    expect(
      runtimeOptionsFromEnv(
        { LOCAL_RUNTIME_INSTANCE: 'remembered', LOCAL_KAFKA_BROKER_COUNT: '1' },
        { cacheDir },
      ).brokerCount,
    ).toBe(1);
  });
});
