/**
 * deploy/prometheus: the scrape configs load, the rules pass their promtool unit tests, every alert is
 * tested both firing and quiet, and every expression names only metrics the services export.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { headingAnchors } from '../../helpers/markdown';
import {
  exportedMetricNames,
  metricNamesIn,
  PROMETHEUS_STANDARD_NAMES,
  REPO_ROOT,
  requirePrometheusTool,
} from '../../helpers/promql';

const DIR = join(REPO_ROOT, 'deploy', 'prometheus');
const RUNBOOKS = 'docs/runbooks.md';

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}

function load<T>(file: string): T {
  return parse(readFileSync(join(DIR, file), 'utf8')) as T;
}

const recording = load<RuleFile>('rules/recording.yml').groups.flatMap((g) => g.rules);
const alerts = load<RuleFile>('rules/alerts.yml').groups.flatMap((g) => g.rules);

function promtool(args: string[]): string {
  const tool = requirePrometheusTool('promtool');
  try {
    return execFileSync(tool, args, { cwd: DIR, encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

describe('deploy/prometheus', () => {
  it('scrape configs (local and docker-compose) load, with their rule files', () => {
    expect(promtool(['check', 'config', 'prometheus.yml'])).toMatch(/SUCCESS/);
    expect(promtool(['check', 'config', 'prometheus.docker.yml'])).toMatch(/SUCCESS/);
  });

  it('rules pass their promtool unit tests', () => {
    expect(promtool(['test', 'rules', 'tests/rules.test.yml'])).toMatch(/SUCCESS/);
  });

  it('local config scrapes ingress :3000 and processor :9464; the docker one the compose services', () => {
    type Cfg = {
      rule_files: string[];
      scrape_configs: { job_name: string; metrics_path: string; static_configs: { targets: string[] }[] }[];
    };
    const local = load<Cfg>('prometheus.yml');
    const docker = load<Cfg>('prometheus.docker.yml');
    const targets = (c: Cfg) =>
      Object.fromEntries(
        c.scrape_configs.map((s) => [s.job_name, s.static_configs.flatMap((x) => x.targets)]),
      );
    expect(targets(local)).toEqual({
      'nylas-stream-ingress': ['127.0.0.1:3000'],
      'nylas-stream-processor': ['127.0.0.1:9464'],
    });
    expect(targets(docker)).toEqual({
      'nylas-stream-ingress': ['ingress:3000'],
      'nylas-stream-processor': ['processor:9464'],
    });
    // Apart from the targets the two files say the same thing.
    const strip = (c: Cfg) => ({
      ...c,
      scrape_configs: c.scrape_configs.map((s) => ({ ...s, static_configs: [] })),
    });
    expect(strip(docker)).toEqual(strip(local));
    expect(local.rule_files).toEqual(['rules/recording.yml', 'rules/alerts.yml']);
  });

  it('every expression names only exported metrics or recording rules defined here', () => {
    const exported = exportedMetricNames();
    const recorded = new Set(recording.map((r) => r.record));
    const unknown: string[] = [];
    for (const rule of [...recording, ...alerts]) {
      for (const name of metricNamesIn(rule.expr)) {
        if (!exported.has(name) && !recorded.has(name) && !PROMETHEUS_STANDARD_NAMES.has(name)) {
          unknown.push(`${rule.record ?? rule.alert}: ${name}`);
        }
      }
    }
    expect(unknown).toEqual([]);
  });

  it('has the alerts the issue asks for, each with a severity, a summary and a runbook link', () => {
    const names = alerts.map((a) => a.alert);
    for (const required of [
      'NylasStreamIngress5xxRatioHigh',
      'NylasStreamSignatureFailureSpike',
      'NylasStreamConsumerLagHigh',
      'NylasStreamDeadLettersGrowing',
      'NylasStreamExpansionErrors',
      'NylasStreamEndToEndLatencyHigh',
      'NylasStreamNoTraffic',
      // Named by the help of nylas_stream_backfill_oldest_running_seconds (lib/metric-names.ts).
      'NylasStreamBackfillStuck',
    ]) {
      expect(names).toContain(required);
    }
    for (const a of alerts) {
      expect([a.alert, a.labels?.severity]).toEqual([a.alert, expect.stringMatching(/^(page|ticket)$/)]);
      expect(a.annotations?.summary).toBeTruthy();
      expect(a.annotations?.runbook_url).toBe(`${RUNBOOKS}#${a.alert?.toLowerCase()}`);
    }
  });

  it('every alert is unit-tested both firing and quiet', () => {
    type TestFile = {
      tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
    };
    const cases = load<TestFile>('tests/rules.test.yml').tests.flatMap((t) => t.alert_rule_test ?? []);
    const missing: string[] = [];
    for (const a of alerts) {
      const mine = cases.filter((c) => c.alertname === a.alert);
      if (!mine.some((c) => (c.exp_alerts ?? []).length > 0)) missing.push(`${a.alert} never fires`);
      if (!mine.some((c) => (c.exp_alerts ?? []).length === 0)) missing.push(`${a.alert} never quiet`);
    }
    expect(missing).toEqual([]);
  });

  it('every runbook_url (in the rules and in their promtool tests) resolves to a file and a heading anchor', () => {
    type TestFile = {
      tests: { alert_rule_test?: { exp_alerts?: { exp_annotations?: Record<string, string> }[] }[] }[];
    };
    const tested = load<TestFile>('tests/rules.test.yml')
      .tests.flatMap((t) => t.alert_rule_test ?? [])
      .flatMap((c) => c.exp_alerts ?? [])
      .map((e) => e.exp_annotations?.runbook_url);
    const urls = [...alerts.map((a) => a.annotations?.runbook_url), ...tested];
    const broken: string[] = [];
    for (const url of urls) {
      const [file = '', anchor, ...rest] = (url ?? '').split('#');
      const path = join(REPO_ROOT, file);
      if (file === '' || anchor === undefined || rest.length > 0 || !existsSync(path)) {
        broken.push(`${url}: no such file`);
      } else if (!headingAnchors(readFileSync(path, 'utf8')).includes(anchor)) {
        broken.push(`${url}: no heading with that anchor`);
      }
    }
    expect(urls.length).toBeGreaterThan(alerts.length);
    expect(broken).toEqual([]);
  });

  it('every alert has a runbook in docs/runbooks.md (what it means, what to check, the fix)', () => {
    const section = readFileSync(join(REPO_ROOT, RUNBOOKS), 'utf8');
    const runbooks = section.split(/^## /m).slice(1);
    const byName = new Map(runbooks.map((r) => [r.split('\n')[0]?.trim(), r]));
    for (const a of alerts) {
      const runbook = byName.get(a.alert);
      expect([a.alert, runbook !== undefined]).toEqual([a.alert, true]);
      expect(runbook).toMatch(/\*Means:\*/);
      expect(runbook).toMatch(/\*Check:\*/);
      expect(runbook).toMatch(/\*Fix:\*/);
    }
    expect([...byName.keys()].sort()).toEqual(alerts.map((a) => a.alert).sort());
  });
});
