/**
 * What the deploy/ tests need to hold the Prometheus rules and the Grafana dashboard to the metric
 * catalog (lib/metric-names.ts): a small PromQL scanner that finds the metric names an expression
 * selects, the set of names the services really export, and a way to find (or install) promtool.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { METRICS } from '../../lib/metric-names';
import { METRIC_PREFIX } from '../../lib/metrics';

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'bool',
  'inf',
  'nan',
  'atan2',
]);

/**
 * Metric names selected by a PromQL expression (Grafana variables allowed). Functions, aggregations,
 * keywords, label names (in matchers and in by/without/on/ignoring/group_* lists), numbers and
 * durations are not names; `{__name__="x"}` selectors are.
 */
export function metricNamesIn(expr: string): string[] {
  const names = new Set<string>();
  let s = expr
    // Grafana variables: $var, ${var}, ${var:format}, $__rate_interval, [[var]].
    .replace(/\$\{[^}]*\}|\$\w+|\[\[[^\]]*\]\]/g, ' 0 ')
    // # comments to end of line.
    .replace(/#[^\n]*/g, ' ');
  // Label matchers may name the metric: {__name__="x"}.
  for (const m of s.matchAll(/__name__\s*=\s*"([^"]*)"/g)) if (m[1]) names.add(m[1]);
  s = s
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' "" ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  for (const m of s.matchAll(/(?<![A-Za-z0-9_.:])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)) {
    const ident = m[1] ?? '';
    if (m[2] !== undefined) continue; // a function or aggregation call
    if (KEYWORDS.has(ident.toLowerCase())) continue;
    names.add(ident);
  }
  return [...names].sort();
}

/** Names the services export: the catalog (histograms as _bucket/_sum/_count) and prom-client's
 * process/Node.js defaults, which lib/metrics.ts registers with the same prefix. */
export function exportedMetricNames(): Set<string> {
  const names = new Set<string>();
  for (const m of Object.values(METRICS)) {
    if (m.type === 'histogram')
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(m.name + suffix);
    else names.add(m.name);
  }
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  for (const metric of registry.getMetricsAsArray()) {
    const { name, type } = metric as unknown as { name: string; type: string };
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    else names.add(name);
  }
  return names;
}

/** Series Prometheus itself attaches to every scrape target. */
export const PROMETHEUS_STANDARD_NAMES = new Set([
  'up',
  'scrape_duration_seconds',
  'scrape_samples_scraped',
  'scrape_samples_post_metric_relabeling',
  'scrape_series_added',
]);

export const REPO_ROOT = join(__dirname, '..', '..');

function onPath(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Returns the name of a runnable `tool` ("promtool" or "prometheus"), installing Debian's `prometheus`
 * package through deploy/prometheus/ensure-promtool.sh when missing; throws saying what to install.
 */
export function requirePrometheusTool(tool: 'promtool' | 'prometheus'): string {
  if (onPath(tool)) return tool;
  try {
    execFileSync(join(REPO_ROOT, 'deploy', 'prometheus', 'ensure-promtool.sh'), { stdio: 'inherit' });
  } catch {
    // the message below says what to do
  }
  if (!onPath(tool)) {
    throw new Error(
      `${tool} is required by the Prometheus tests and could not be installed: install the Debian/Ubuntu ` +
        `package "prometheus" (apt-get install -y prometheus) or a Prometheus release from ` +
        'https://prometheus.io/download/ and put promtool and prometheus on PATH.',
    );
  }
  return tool;
}
