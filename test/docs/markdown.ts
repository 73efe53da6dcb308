// Reads the user docs as data for the docs tests: pages, headings, code blocks, tables and links.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The pages users read, relative to the repository root. */
export function docPages(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`);
  return ['README.md', ...docs.sort(), 'example-app/README.md', 'bench/README.md', 'CONTRIBUTING.md'];
}

/** The page of each middleware, and the exported type of its options. */
export const MIDDLEWARE_PAGES = [
  { page: 'docs/sessions.md', optionsType: 'SessionOptions' },
  { page: 'docs/rate-limiting.md', optionsType: 'RateLimitOptions' },
  { page: 'docs/response-caching.md', optionsType: 'ResponseCacheOptions' },
  { page: 'docs/page-views.md', optionsType: 'PageViewsOptions' },
] as const;

/** The sections every middleware page has, in this order. */
export const TEMPLATE = [
  'Overview and example',
  'Options',
  'What it adds to `req`',
  'Admin methods',
  'Headers',
  'Redis keys and memory',
  'When Redis fails',
  'Security',
];

/** Put on the line before a code block that is deliberately partial, to leave it out of the type check. */
export const SKIP_MARKER = '<!-- docs-check: skip -->';

export function readPage(page: string): string {
  return readFileSync(join(ROOT, page), 'utf8');
}

export interface Heading {
  level: number;
  text: string;
  line: number;
}

export interface CodeBlock {
  page: string;
  lang: string;
  /** 1-based line of the first line of code (the line after the opening fence). */
  line: number;
  code: string;
  skipped: boolean;
}

/** Lines of a page with a flag for those inside a fenced code block (fences included). */
function scan(text: string): { line: string; fenced: boolean }[] {
  let inFence = false;
  return text.split('\n').map((line) => {
    const fence = line.startsWith('```');
    const fenced = inFence || fence;
    if (fence) inFence = !inFence;
    return { line, fenced };
  });
}

export function headings(text: string): Heading[] {
  const out: Heading[] = [];
  scan(text).forEach(({ line, fenced }, i) => {
    const match = /^(#{1,6}) (.+?)\s*$/.exec(line);
    if (match?.[1] && match[2] && !fenced) out.push({ level: match[1].length, text: match[2], line: i + 1 });
  });
  return out;
}

export function codeBlocks(page: string, text: string): CodeBlock[] {
  const lines = text.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i] ?? '');
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && l.startsWith('```'));
    if (end < 0) throw new Error(`${page}:${i + 1}: code block is never closed`);
    let before = i - 1;
    while (before >= 0 && lines[before]?.trim() === '') before--;
    blocks.push({
      page,
      lang: open[1] ?? '',
      line: i + 2,
      code: lines.slice(i + 1, end).join('\n'),
      skipped: lines[before]?.trim() === SKIP_MARKER,
    });
    i = end;
  }
  return blocks;
}

/** The anchor GitHub gives a heading. */
export function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

/** The text of one `##` section (up to the next `##` or `#` heading). */
export function section(text: string, title: string): string {
  const all = headings(text);
  const start = all.find((h) => h.level === 2 && h.text === title);
  if (!start) return '';
  const end = all.find((h) => h.line > start.line && h.level <= 2);
  return text
    .split('\n')
    .slice(start.line, end ? end.line - 1 : undefined)
    .join('\n');
}

/** The first cell of each body row of the first table in `text`, without backticks. */
export function firstColumn(text: string): string[] {
  const rows = text.split('\n').filter((l) => l.startsWith('|'));
  return rows
    .slice(2)
    .map((row) => (row.split('|')[1] ?? '').trim().replace(/`/g, ''))
    .filter((cell) => cell !== '');
}

export interface Link {
  page: string;
  line: number;
  target: string;
}

/** Links to other pages of the repository (not http(s) or mail links), outside code. */
export function relativeLinks(page: string, text: string): Link[] {
  const links: Link[] = [];
  scan(text).forEach(({ line, fenced }, i) => {
    if (fenced) return;
    const withoutCode = line.replace(/`[^`]*`/g, '');
    for (const match of withoutCode.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = match[1] ?? '';
      if (/^[a-z]+:/i.test(target)) continue;
      links.push({ page, line: i + 1, target });
    }
  });
  return links;
}

export function fromRoot(path: string): string {
  return relative(ROOT, path).split('\\').join('/');
}
