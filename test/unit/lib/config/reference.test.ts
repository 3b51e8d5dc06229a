import { readFileSync } from 'node:fs';
import { durationVariable, integer, secret } from '../../../../lib/config/declare';
import { renderReference } from '../../../../lib/config/reference';
import {
  configurationReference,
  REFERENCE_FILE,
  REFERENCE_SECTIONS,
} from '../../../../scripts/config-reference';

describe('the configuration reference', () => {
  it('docs/configuration.md is what `npm run docs:config` writes from the declarations', () => {
    // On failure: run `npm run docs:config` and commit docs/configuration.md.
    expect(readFileSync(REFERENCE_FILE, 'utf8')).toBe(configurationReference());
  });

  it('declares every variable once, with a description', () => {
    const names = REFERENCE_SECTIONS.flatMap((s) => s.variables.map((v) => v.name));
    expect(new Set(names).size).toBe(names.length);
    for (const s of REFERENCE_SECTIONS)
      for (const v of s.variables) expect([v.name, v.description.length > 0]).toEqual([v.name, true]);
  });

  it('prints one row per variable: name, default, unit and range, readers, meaning', () => {
    const about = { description: 'what | it does', readBy: ['ingress', 'cli'] as const };
    const text = renderReference([
      {
        title: 'Example',
        intro: 'An example section.',
        prefixes: ['X_'],
        variables: [
          integer('X_BYTES', { ...about, default: 2048, min: 0, max: 64 * 1024, unit: 'bytes' }),
          durationVariable('X_TIMEOUT_MS', { ...about, default: 8000, min: 100 }),
          secret('X_KEY', about),
        ],
      },
    ]);
    expect(text).toContain(
      '## Example\n\nAn example section.\n\nUnknown variables starting with `X_` are reported',
    );
    expect(text).toContain(
      '| `X_BYTES` | `2048` (2 KiB) | integer (bytes), 0 … 65536 (64 KiB) | ingress, cli | what \\| it does |',
    );
    expect(text).toContain('| `X_TIMEOUT_MS` | `8s` | duration (bare number: ms), ≥ 100ms | ingress, cli |');
    expect(text).toContain('| `X_KEY` | — | secret | ingress, cli |');
  });
});
