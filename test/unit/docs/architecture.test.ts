/**
 * docs/architecture.md is the public contract and is kept current by hand; its metric table must name
 * exactly the metrics the services export, with their types and labels, or dashboards and alerts
 * written from the document would query names that do not exist.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { METRICS } from '../../../lib/metric-names';
import { REPO_ROOT } from '../../helpers/promql';

/** Rows of the document's metric table: "| `name` | type | `label`, `label` |" ("—" for no labels). */
function documentedMetrics(markdown: string): string[] {
  const rows: string[] = [];
  for (const line of markdown.split('\n')) {
    const cells = /^\|\s*`(nylas_stream_[a-z_]+)`\s*\|\s*(\w+)\s*\|\s*(.*?)\s*\|$/.exec(line);
    if (cells === null) continue;
    const labels = [...(cells[3] ?? '').matchAll(/`([a-z_]+)`/g)].map((m) => m[1]);
    rows.push(`${cells[1]} ${cells[2]} [${labels.join(',')}]`);
  }
  return rows;
}

describe('docs/architecture.md', () => {
  it('lists every exported metric with its type and labels, and nothing else', () => {
    const doc = readFileSync(join(REPO_ROOT, 'docs', 'architecture.md'), 'utf8');
    const catalog = Object.values(METRICS).map((m) => `${m.name} ${m.type} [${m.labels.join(',')}]`);
    expect(documentedMetrics(doc).sort()).toEqual(catalog.sort());
  });
});
