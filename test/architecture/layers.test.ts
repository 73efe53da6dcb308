// The layering docs/architecture.md describes, checked on every import in src/: core imports nothing of ours,
// redis imports only core, and no middleware imports another.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');
const MIDDLEWARES = ['session', 'rate-limit', 'cache', 'page-views'];

/** What each folder of src/ may import from the others. */
const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  redis: ['core'],
  ...Object.fromEntries(MIDDLEWARES.map((m) => [m, ['core', 'redis']])),
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : name.endsWith('.ts') ? [path] : [];
  });
}

/** Each relative import of a file, as the folder of src/ it lands in. */
function importedFolders(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const folders: string[] = [];
  for (const match of text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
    const target = relative(SRC, resolve(dirname(file), match[1] as string));
    folders.push(target.split('/')[0] as string);
  }
  return folders;
}

describe('layers of src/', () => {
  it('has the folders the architecture describes', () => {
    const folders = readdirSync(SRC).filter((name) => statSync(join(SRC, name)).isDirectory());
    expect(folders.sort()).toEqual(Object.keys(ALLOWED).sort());
  });

  it.each(Object.keys(ALLOWED))('src/%s imports only what its layer may', (folder) => {
    const allowed = new Set([folder, ...(ALLOWED[folder] ?? [])]);
    const wrong: string[] = [];
    for (const file of sourceFiles(join(SRC, folder))) {
      for (const target of importedFolders(file)) {
        if (!allowed.has(target)) wrong.push(`${relative(SRC, file)} imports src/${target}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('no file in src/ is longer than 350 lines', () => {
    const long = sourceFiles(SRC)
      .map((file) => [relative(SRC, file), readFileSync(file, 'utf8').split('\n').length] as const)
      .filter(([, lines]) => lines > 350);
    expect(long).toEqual([]);
  });
});
