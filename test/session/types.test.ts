// Typed session data through declaration merging, checked by running the TypeScript compiler on a sample.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
// Inside the worktree, so the compiler finds node_modules; removed afterwards.
const dir = mkdtempSync(join(root, 'test/session/.types-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SAMPLE = `
import express from 'express';
import { session, type SessionInfo } from 'express-redis-kit';

declare module 'express-redis-kit' {
  interface SessionData {
    cartId: string;
    csrf: string;
  }
}

declare const sessions: ReturnType<typeof session>;
const app = express();
app.post('/login', async (req, res) => {
  req.session.cartId = 'c1';
  const csrf: string | undefined = req.session.csrf;
  await req.session.signIn(42, { keep: ['cartId'] });
  const rows: SessionInfo[] = await sessions.listForUser(req.session.userId ?? '', { current: req.session.handle });
  await sessions.revokeAll(42, { except: req.session.handle });
  // @ts-expect-error cartId is a string
  req.session.cartId = 3;
  // @ts-expect-error unknown key
  req.session.cartID = 'typo';
  // @ts-expect-error the id is read-only
  req.session.id = 'mine';
  res.json({ csrf, rows });
});
app.post('/express-session-style', (req, res) => {
  const id: string = req.sessionID;
  req.session.cookie.maxAge = 30 * 24 * 3600 * 1000;
  req.session.cookie.maxAge = null;
  req.session.cookie.expires = false;
  const expires: Date | null = req.session.cookie.expires;
  const path: string = req.session.cookie.path;
  // @ts-expect-error cookie attributes other than the lifetime are options of session()
  req.session.cookie.path = '/admin';
  // @ts-expect-error the cookie is the session's own
  req.session.cookie = { maxAge: 1 };
  const chained: typeof req.session = req.session.touch();
  req.session.regenerate((error?: Error) => {
    req.session.save((saveError) => {
      res.json({ id, expires, path, chained: chained === req.session, error, saveError });
    });
  });
});
app.post('/promises', async (req, res) => {
  await req.session.reload();
  await req.session.regenerate({ keep: ['cartId'] });
  await req.session.signIn('u1', { maxAge: 3_600_000 });
  // @ts-expect-error the promise form returns no session to chain on
  req.session.save().touch();
  res.end();
});
`;

it('SessionData merges into req.session, the express-session surface is typed, typos and wrong types fail to compile', async () => {
  writeFileSync(join(dir, 'sample.ts'), SAMPLE);
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        lib: ['ES2023'],
        types: ['node'],
        skipLibCheck: true,
        noEmit: true,
        paths: { 'express-redis-kit': [join(root, 'src/index.ts')] },
        allowImportingTsExtensions: true,
      },
      files: ['sample.ts'],
    }),
  );
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  const run = promisify(execFile);
  const result = await run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')]).then(
    () => ({ ok: true, output: '' }),
    (error: { stdout?: string }) => ({ ok: false, output: error.stdout ?? String(error) }),
  );
  expect(result.output).toBe('');
  expect(result.ok).toBe(true);
}, 60_000);
