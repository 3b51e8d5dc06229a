/**
 * Every relative link in README.md, CHANGELOG.md, docs/ and the Helm chart's README lands on a file that exists and, when it
 * names an anchor, on a heading that exists: the docs are the operators' manual, and a link that
 * silently dangles after a file or heading is renamed is found by an on-call engineer at the worst time.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { headingAnchors } from '../../helpers/markdown';

const root = join(__dirname, '..', '..', '..');

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return markdownFiles(path);
    return e.name.endsWith('.md') ? [path] : [];
  });
}

/** The broken relative links of one Markdown file, as "file: link: why". */
function brokenLinks(
  file: string,
  text: string,
  exists: (path: string) => 'file' | 'dir' | undefined,
): string[] {
  const broken: string[] = [];
  const prose = text.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  for (const m of prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const link = m[1] ?? '';
    if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // http:, https:, mailto:
    const [path = '', anchor] = link.split('#');
    const target = path === '' ? file : join(dirname(file), decodeURIComponent(path));
    const kind = exists(target);
    const name = `${relative(root, file)}: ${link}`;
    if (kind === undefined) broken.push(`${name}: no such file`);
    else if (anchor !== undefined && anchor !== '' && kind === 'file') {
      if (!headingAnchors(readFileSync(target, 'utf8')).includes(anchor))
        broken.push(`${name}: no such heading`);
    }
  }
  return broken;
}

function onDisk(path: string): 'file' | 'dir' | undefined {
  if (!existsSync(path)) return undefined;
  return statSync(path).isDirectory() ? 'dir' : 'file';
}

describe('links in the documentation', () => {
  const files = [
    join(root, 'README.md'),
    join(root, 'CHANGELOG.md'),
    ...markdownFiles(join(root, 'docs')),
    join(root, 'deploy', 'helm', 'nylas-stream', 'README.md'),
  ];

  it.each(files.map((f) => [relative(root, f), f]))('%s: every relative link resolves', (_name, file) => {
    expect(brokenLinks(file, readFileSync(file, 'utf8'), onDisk)).toEqual([]);
  });

  it('reports a missing file and a missing heading (the check can fail)', () => {
    const readme = join(root, 'README.md');
    const text = '[a](docs/no-such-file.md) [b](docs/runbooks.md#no-such-heading) [c](https://example.com/x)';
    expect(brokenLinks(readme, text, onDisk)).toEqual([
      'README.md: docs/no-such-file.md: no such file',
      'README.md: docs/runbooks.md#no-such-heading: no such heading',
    ]);
  });
});
