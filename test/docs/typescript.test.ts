// The docs against the package's types: every TypeScript sample compiles, every options table is complete.
import { describe, expect, it } from 'vitest';
import {
  type CodeBlock,
  codeBlocks,
  docPages,
  firstColumn,
  MIDDLEWARE_PAGES,
  readPage,
  SKIP_MARKER,
  section,
} from './markdown.js';
import { createDocsProgram, propertyNames, propertyType } from './program.js';

const TS_LANGS = new Set(['ts', 'typescript']);
const blocks = docPages().flatMap((page) =>
  codeBlocks(page, readPage(page)).filter((b) => TS_LANGS.has(b.lang)),
);

/** Samples that must fail to compile: they show the check is real (a wrong option, a wrong session type). */
const CANARIES: CodeBlock[] = [
  {
    page: 'canary/unknown-option',
    lang: 'ts',
    line: 1,
    skipped: false,
    code: [
      "import { Redis } from 'ioredis';",
      "import { rateLimit } from 'express-redis-kit';",
      "rateLimit({ redis: new Redis(), name: 'api', limit: 1, window: '1m', windw: '1m' });",
    ].join('\n'),
  },
  {
    page: 'canary/session-data',
    lang: 'ts',
    line: 1,
    skipped: false,
    code: [
      "import type { Request } from 'express';",
      'declare const req: Request;',
      "req.session.signIn({ not: 'a user id' });",
    ].join('\n'),
  },
];

const docs = createDocsProgram([...blocks.filter((b) => !b.skipped), ...CANARIES]);

describe('TypeScript samples in the docs', () => {
  it('finds the samples of every page that has them', () => {
    const pages = new Set(blocks.map((b) => b.page));
    for (const { page } of MIDDLEWARE_PAGES) expect(pages).toContain(page);
    expect(pages).toContain('README.md');
  });

  it('type-check against the package', () => {
    const problems = docs.samples
      .filter((s) => !s.block.page.startsWith('canary/'))
      .flatMap((s) => docs.problems(s));
    expect(problems, `Fix these samples, or declare what they leave out (declare const db: …)`).toEqual([]);
  });

  it('would catch a wrong sample', () => {
    for (const canary of docs.samples.filter((s) => s.block.page.startsWith('canary/'))) {
      expect(docs.problems(canary), canary.block.page).not.toEqual([]);
    }
  });

  it(`are rarely left out with ${SKIP_MARKER}`, () => {
    expect(blocks.filter((b) => b.skipped).length).toBeLessThanOrEqual(3);
  });
});

describe('options tables', () => {
  for (const { page, optionsType } of MIDDLEWARE_PAGES) {
    it(`${page} lists exactly the options of ${optionsType}`, () => {
      const type = docs.exportedType(optionsType);
      if (!type) throw new Error(`express-redis-kit exports no ${optionsType}`);
      const rows = firstColumn(section(readPage(page), 'Options'));
      expect(rows.length, `${page} has no table under "## Options"`).toBeGreaterThan(0);

      const topLevel = [...new Set(rows.map((r) => r.split('.')[0] ?? r))].sort();
      expect(topLevel, `options in the table of ${page} vs ${optionsType}`).toEqual(
        propertyNames(docs.checker, type),
      );

      // Rows like `cookie.sameSite` document a nested options object: all of its fields, none more.
      for (const parent of new Set(rows.filter((r) => r.includes('.')).map((r) => r.split('.')[0] ?? r))) {
        const nestedType = propertyType(docs.checker, type, parent);
        if (!nestedType) throw new Error(`${optionsType} has no ${parent}`);
        const nested = rows
          .filter((r) => r.startsWith(`${parent}.`))
          .map((r) => r.slice(parent.length + 1))
          .sort();
        expect(nested, `${parent}.* rows in ${page}`).toEqual(propertyNames(docs.checker, nestedType));
      }
    });
  }
});
