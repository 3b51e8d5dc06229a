/**
 * docs/failure-codes.md, rendered from lib/errors.ts FAILURE_CODES. test/unit/lib/failure-codes.test.ts
 * fails when the file and the table differ, and rewrites the file when UPDATE_FAILURE_CODES_DOC=1.
 */
import { FAILURE_CODES, type FailureCode } from '../../lib/errors';

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function row(code: string, f: FailureCode): string {
  const http = f.http === undefined ? '—' : f.http === null ? 'none (sender gone)' : String(f.http);
  const reason = f.deadLetter === undefined ? '—' : `\`${code}\``;
  const redrivable = f.deadLetter === undefined ? '—' : f.deadLetter.redrivable ? 'yes' : 'no';
  return `| \`${code}\` | ${f.retriable ? 'yes' : 'no'} | ${redrivable} | ${http} | ${reason} | ${cell(f.meaning)} |`;
}

export function failureCodesMarkdown(): string {
  const lines = [
    '# Failure codes',
    '',
    '<!-- Generated from lib/errors.ts FAILURE_CODES; edit the table there, then run',
    '     UPDATE_FAILURE_CODES_DOC=1 npx jest --selectProjects unit --testPathPatterns failure-codes -->',
    '',
    'Every error nylas-stream raises on purpose carries one of these codes. It is logged as `code`, sent',
    'as the `dlq-error-code` header of a dead letter, and, for the codes with a DLQ reason, is the',
    '`dlq-reason` header, the `reason` label of the dead-letter metric and the `redrive --reason` filter.',
    '',
    '- **Retriable**: trying the same work again can succeed. The ingress answers a status Nylas retries;',
    '  the processor fails the round and retries it instead of dead-lettering. One error may say otherwise',
    "  (`SOURCE_NOT_ALLOWED` is a 503 while Nylas's address list is not loaded yet).",
    '- **Redrivable**: a record dead-lettered under it can succeed when re-driven after a fix',
    '  (`dlq-redrivable`; `nylas-stream redrive` warns about the others).',
    '- **HTTP**: the status the ingress answers. Any code without one, and any error that is not ours',
    '  (`INTERNAL`), answers 503 with Retry-After: Nylas drops a notification answered with anything',
    '  but 408, 429, 502, 503, 504 or 507, so the ingress never answers 500.',
    '- **DLQ reason**: the processor dead-letters a record under this code (`dlq-reason`).',
    '',
    '| Code | Retriable | Redrivable | HTTP | DLQ reason | Meaning |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const [code, f] of Object.entries(FAILURE_CODES)) lines.push(row(code, f));
  return `${lines.join('\n')}\n`;
}
