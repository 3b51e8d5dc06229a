/**
 * deploy/grafana: the dashboard is built on exactly the catalog's metric names (every expression names
 * only exported metrics, every catalog metric is on it), every expression parses as PromQL, and the
 * provisioning files agree with docker-compose.yml.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { METRICS } from '../../../lib/metric-names';
import {
  exportedMetricNames,
  metricNamesIn,
  PROMETHEUS_STANDARD_NAMES,
  REPO_ROOT,
  requirePrometheusTool,
} from '../../helpers/promql';

const GRAFANA = join(REPO_ROOT, 'deploy', 'grafana');
/** Grafana's variable syntax, not a template literal. */
const DATASOURCE_VAR = ['$', '{datasource}'].join('');

interface Target {
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: unknown }[] };
}

const dashboard = JSON.parse(
  readFileSync(join(GRAFANA, 'dashboards', 'nylas-stream.json'), 'utf8'),
) as Dashboard;

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}
const panels = allPanels(dashboard.panels);
const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr ?? '' })));

const recorded = new Set(
  (
    parse(readFileSync(join(REPO_ROOT, 'deploy', 'prometheus', 'rules', 'recording.yml'), 'utf8')) as {
      groups: { rules: { record: string }[] }[];
    }
  ).groups.flatMap((g) => g.rules.map((r) => r.record)),
);

describe('deploy/grafana dashboard', () => {
  it('has expressions to check', () => {
    expect(exprs.length).toBeGreaterThan(20);
    for (const e of exprs) expect(e.expr.trim()).not.toBe('');
  });

  it('names only metrics the services export (or Prometheus standard series)', () => {
    const exported = exportedMetricNames();
    const unknown = exprs.flatMap((e) =>
      metricNamesIn(e.expr)
        .filter((n) => !exported.has(n) && !recorded.has(n) && !PROMETHEUS_STANDARD_NAMES.has(n))
        .map((n) => `${e.panel}: ${n}`),
    );
    expect(unknown).toEqual([]);
  });

  it('shows every metric of the catalog', () => {
    const used = new Set(exprs.flatMap((e) => metricNamesIn(e.expr)));
    const missing = Object.values(METRICS)
      .filter((m) =>
        m.type === 'histogram'
          ? !['_bucket', '_sum', '_count'].some((s) => used.has(m.name + s))
          : !used.has(m.name),
      )
      .map((m) => m.name);
    expect(missing).toEqual([]);
  });

  it('every expression parses as PromQL (evaluated by promtool on an empty TSDB)', () => {
    const promtool = requirePrometheusTool('promtool');
    const dir = mkdtempSync(join(tmpdir(), 'grafana-promql-'));
    try {
      // promtool has no "parse this" command; an expression test on no data does the parsing and
      // must come back empty.
      const tests = {
        rule_files: [join(REPO_ROOT, 'deploy', 'prometheus', 'rules', 'recording.yml')],
        evaluation_interval: '1m',
        tests: [
          {
            interval: '1m',
            input_series: [],
            promql_expr_test: exprs.map((e) => ({
              expr: e.expr.replace(/\$__rate_interval/g, '5m'),
              eval_time: '10m',
              exp_samples: [],
            })),
          },
        ],
      };
      writeFileSync(join(dir, 'dashboard.test.yml'), stringify(tests));
      try {
        execFileSync(promtool, ['test', 'rules', 'dashboard.test.yml'], { cwd: dir, stdio: 'pipe' });
      } catch (err) {
        const e = err as { stdout?: Buffer; stderr?: Buffer };
        throw new Error(`promtool rejected a dashboard expression:\n${e.stdout}${e.stderr}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('panels have unique ids and use the datasource variable', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }),
    );
    for (const p of panels.filter((x) => x.type !== 'row')) {
      expect([p.title, p.datasource?.uid]).toEqual([p.title, DATASOURCE_VAR]);
      for (const t of p.targets ?? []) expect(t.datasource?.uid).toBe(DATASOURCE_VAR);
    }
  });
});

describe('deploy/grafana provisioning', () => {
  const compose = parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, { volumes?: string[]; ports?: string[] }>;
  };
  const mounts = Object.fromEntries(
    (compose.services.grafana?.volumes ?? []).map((v) => {
      const [host, container] = v.split(':');
      return [host, container];
    }),
  );

  it('docker-compose mounts the provisioning and dashboards folders where the provider looks', () => {
    expect(mounts['./deploy/grafana/provisioning']).toBe('/etc/grafana/provisioning');
    const provider = parse(
      readFileSync(join(GRAFANA, 'provisioning', 'dashboards', 'nylas-stream.yml'), 'utf8'),
    ) as { apiVersion: number; providers: { type: string; options: { path: string } }[] };
    expect(provider.apiVersion).toBe(1);
    expect(provider.providers[0]?.type).toBe('file');
    expect(mounts['./deploy/grafana/dashboards']).toBe(provider.providers[0]?.options.path);
  });

  it('the data source is the compose Prometheus service', () => {
    const ds = parse(
      readFileSync(join(GRAFANA, 'provisioning', 'datasources', 'prometheus.yml'), 'utf8'),
    ) as { datasources: { type: string; uid: string; url: string; isDefault: boolean }[] };
    expect(ds.datasources).toEqual([
      expect.objectContaining({
        type: 'prometheus',
        uid: 'prometheus',
        url: 'http://prometheus:9090',
        isDefault: true,
      }),
    ]);
    expect(compose.services.prometheus).toBeDefined();
  });
});
