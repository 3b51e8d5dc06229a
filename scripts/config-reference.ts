/**
 * Writes docs/configuration.md from the declarations of every program that reads the environment:
 *
 *   npm run docs:config
 *
 * test/unit/lib/config/reference.test.ts fails when the committed file differs from what this writes,
 * so a variable added, renamed or re-described in code without running it is caught.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { LOCAL_RUNTIME_SECTION } from '../deploy/local/config';
import { INGRESS_SECTION } from '../ingress/config';
import { type ConfigSection, SHARED_SECTION } from '../lib/config';
import { renderReference } from '../lib/config/reference';
import { PROCESSOR_SECTION } from '../processors/config';
import { SIMULATOR_SECTION } from '../simulator/config';

export const REFERENCE_SECTIONS: readonly ConfigSection[] = [
  SHARED_SECTION,
  INGRESS_SECTION,
  PROCESSOR_SECTION,
  SIMULATOR_SECTION,
  LOCAL_RUNTIME_SECTION,
];

export const REFERENCE_FILE = path.join(__dirname, '..', 'docs', 'configuration.md');

export function configurationReference(): string {
  return renderReference(REFERENCE_SECTIONS);
}

export function main(): void {
  writeFileSync(REFERENCE_FILE, configurationReference());
  console.warn(`wrote ${path.relative(process.cwd(), REFERENCE_FILE)}`);
}
