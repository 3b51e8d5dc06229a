/**
 * The heading-anchor helper the runbook-link test relies on: if it produced anchors GitHub does not,
 * a runbook_url could pass the test and still land nowhere.
 */
import { githubSlug, headingAnchors } from '../../helpers/markdown';

describe('githubSlug', () => {
  it('makes the anchors GitHub makes for headings with code, punctuation and non-ASCII text', () => {
    expect(githubSlug('NylasStreamTargetDown')).toBe('nylasstreamtargetdown');
    expect(githubSlug('Ingress (`nylas-stream ingress`)')).toBe('ingress-nylas-stream-ingress');
    expect(githubSlug('Transactions, takeover and zombie fencing')).toBe(
      'transactions-takeover-and-zombie-fencing',
    );
    expect(githubSlug('Webhook destinations: `webhooks …`')).toBe('webhook-destinations-webhooks-');
    expect(githubSlug('Evolution rule: `BACKWARD_TRANSITIVE`')).toBe('evolution-rule-backward_transitive');
    expect(githubSlug('Expansion (`message.*.truncated`)')).toBe('expansion-messagetruncated');
    expect(githubSlug('See [the runbooks](runbooks.md) — **now**')).toBe('see-the-runbooks--now');
  });
});

describe('headingAnchors', () => {
  it('numbers repeated headings and ignores # lines inside fenced code', () => {
    const md = [
      '# Title',
      '## Configuration',
      '```sh',
      '# not a heading',
      '```',
      '### Configuration',
      '#no-space is not a heading',
      '## Closed ATX ##',
    ].join('\n');
    expect(headingAnchors(md)).toEqual(['title', 'configuration', 'configuration-1', 'closed-atx']);
  });
});
