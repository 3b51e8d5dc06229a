/**
 * Heading anchors of a Markdown file as GitHub renders them, so tests can check that links into docs/
 * (the alerts' runbook_urls) land on a heading that exists: a renamed heading otherwise breaks the
 * link silently, and an on-call engineer finds out at the worst moment.
 */

/**
 * GitHub's slug of a heading's text (github-slugger): lower case, every character that is not a
 * letter, mark, number, connector (`_`), space or hyphen dropped, spaces turned into hyphens.
 * Inline code keeps its text; emphasis markers and link targets are not part of the rendered text.
 */
export function githubSlug(heading: string): string {
  const rendered = heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`/g, '')
    .replace(/\*/g, '');
  return rendered
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/**
 * Every anchor GitHub gives the ATX headings of a Markdown text, in order: a repeated slug gets `-1`,
 * `-2`, … as GitHub numbers them. Lines inside fenced code blocks are not headings.
 */
export function headingAnchors(markdown: string): string[] {
  const anchors: string[] = [];
  const seen = new Map<string, number>();
  let fence: string | undefined;
  for (const line of markdown.split('\n')) {
    const fenceMark = /^\s{0,3}(```|~~~)/.exec(line)?.[1];
    if (fenceMark !== undefined) {
      if (fence === undefined) fence = fenceMark;
      else if (fence === fenceMark) fence = undefined;
      continue;
    }
    if (fence !== undefined) continue;
    const text = /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line)?.[1];
    if (text === undefined) continue;
    const slug = githubSlug(text);
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.push(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}
