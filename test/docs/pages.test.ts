// The docs as a whole: every error code has its section, pages keep their template, links lead somewhere.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  docPages,
  headings,
  MIDDLEWARE_PAGES,
  ROOT,
  readPage,
  relativeLinks,
  slug,
  TEMPLATE,
} from './markdown.js';

/** Every `'ERR_…'` string literal in the package's source: the codes it can throw or pass to `next()`. */
function sourceErrorCodes(): string[] {
  const codes = new Set<string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts')) {
        for (const match of readFileSync(path, 'utf8').matchAll(/['"](ERR_[A-Z0-9_]+)['"]/g)) {
          if (match[1]) codes.add(match[1]);
        }
      }
    }
  };
  walk(join(ROOT, 'src'));
  return [...codes].sort();
}

describe('docs/errors.md', () => {
  const documented = headings(readPage('docs/errors.md'))
    .map((h) => /^`(ERR_[A-Z0-9_]+)`$/.exec(h.text)?.[1])
    .filter((code): code is string => code !== undefined);

  it('has a section for every error code in src/', () => {
    const codes = sourceErrorCodes();
    expect(codes.length).toBeGreaterThan(30);
    expect(
      codes.filter((code) => !documented.includes(code)),
      'codes without a section',
    ).toEqual([]);
  });

  it('documents no code that src/ no longer has, and none twice', () => {
    const codes = sourceErrorCodes();
    expect(
      documented.filter((code) => !codes.includes(code)),
      'sections of unknown codes',
    ).toEqual([]);
    expect(new Set(documented).size).toBe(documented.length);
  });
});

describe('page structure', () => {
  for (const { page } of MIDDLEWARE_PAGES) {
    it(`${page} has the template's sections, in order`, () => {
      const sections = headings(readPage(page))
        .filter((h) => h.level === 2)
        .map((h) => h.text);
      expect(sections).toEqual(TEMPLATE);
    });
  }

  it('no page repeats a heading (every anchor is unique)', () => {
    const repeated = docPages().flatMap((page) => {
      const anchors = headings(readPage(page)).map((h) => slug(h.text));
      return anchors.filter((a, i) => anchors.indexOf(a) !== i).map((a) => `${page}#${a}`);
    });
    expect(repeated).toEqual([]);
  });

  it('README.md stays an entry point of at most 250 lines', () => {
    expect(readPage('README.md').split('\n').length).toBeLessThanOrEqual(250);
  });
});

describe('links between pages', () => {
  it('point at files and headings that exist', () => {
    const broken = docPages().flatMap((page) =>
      relativeLinks(page, readPage(page)).flatMap(({ line, target }) => {
        const [path = '', anchor] = target.split('#');
        const file = path === '' ? page : normalize(join(dirname(page), path));
        if (!existsSync(join(ROOT, file))) return [`${page}:${line}: ${target} (no such file)`];
        if (anchor === undefined || !file.endsWith('.md')) return [];
        const anchors = headings(readPage(file)).map((h) => slug(h.text));
        return anchors.includes(anchor) ? [] : [`${page}:${line}: ${target} (no such heading)`];
      }),
    );
    expect(broken).toEqual([]);
  });
});
