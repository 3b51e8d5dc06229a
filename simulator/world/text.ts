/**
 * Deterministic filler text. Bodies are slices of one pre-built corpus, so making a 2 KB or 1.5 MB body
 * is a single string copy, and the same (seed, size) always yields the same bytes. The corpus has no
 * character that JSON escapes, so a body's serialized length is known from its size (bodyJsonLength),
 * which lets the truncation rule (§4.1) be decided without building a 1 MB body.
 */
import type { BodySpec } from './types';

const WORDS = (
  'the quarterly planning notes are attached please review before our sync on thursday we agreed to ship ' +
  'the calendar integration first and revisit the contact import after the offsite thanks for flagging ' +
  'the invoice discrepancy finance will follow up with the vendor the deck has the updated numbers and ' +
  'a summary of open risks let me know if anything is missing from the agenda best regards'
).split(' ');

const CORPUS_LENGTH = 1 << 16;
let corpus = '';
{
  let x = 12345;
  const parts: string[] = [];
  let len = 0;
  while (len < CORPUS_LENGTH * 2) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const w = WORDS[x % WORDS.length] as string;
    const sep = (x >>> 8) % 17 === 0 ? '.</p><p>' : ' ';
    parts.push(w, sep);
    len += w.length + sep.length;
  }
  corpus = parts.join('');
}

const PREFIX = '<div dir="ltr"><p>';
const SUFFIX = '</p></div>';

/** Builds the body described by `spec`: valid-looking HTML of exactly `spec.size` characters (or the
 * wrapper alone when `size` is smaller than it). */
export function materializeBody(spec: BodySpec): string {
  const inner = Math.max(0, spec.size - PREFIX.length - SUFFIX.length);
  const start = spec.seed % CORPUS_LENGTH;
  let text: string;
  if (inner <= CORPUS_LENGTH) {
    text = corpus.slice(start, start + inner);
  } else {
    const chunk = corpus.slice(0, CORPUS_LENGTH);
    const offset = start % 97;
    text = chunk.repeat(Math.ceil((inner + offset) / CORPUS_LENGTH)).slice(offset, offset + inner);
  }
  return PREFIX + text + SUFFIX;
}

/** `JSON.stringify(materializeBody(spec)).length`, without building the body: the wrapper's two
 * quotes are escaped (+2) and the string is quoted (+2); the corpus needs no escaping. */
export function bodyJsonLength(spec: BodySpec): number {
  return Math.max(spec.size, PREFIX.length + SUFFIX.length) + 4;
}

/** A snippet: the first words of the body, as Nylas derives it (plain text, ≤ 100 characters). */
export function snippetFor(spec: BodySpec): string {
  const start = spec.seed % CORPUS_LENGTH;
  return corpus
    .slice(start, start + 100)
    .replace(/<[^>]*>/g, ' ')
    .trim();
}

export function sentence(seed: number, words: number): string {
  const out: string[] = [];
  let x = seed >>> 0;
  for (let i = 0; i < words; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out.push(WORDS[x % WORDS.length] as string);
  }
  const s = out.join(' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}
