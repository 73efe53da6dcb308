// The default visitor: the client address exactly as `req.ip` gives it (honouring `trust proxy`, also when it
// changes at runtime) and the user agent, with the answers for recent addresses remembered.
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createRemoteVisitor, remoteVisitor } from '../../src/page-views/visitor.js';
import { expressVersions } from '../helpers/express.js';

const UA = 'Mozilla/5.0 (visitor test)';

describe.each(expressVersions)('%s', (_versionName, express) => {
  function probe() {
    const app = express();
    const visitorOf = createRemoteVisitor();
    app.get('/', (req, res) => {
      res.json({ kept: visitorOf(req)?.raw, plain: remoteVisitor(req), expected: `${req.ip} ${UA}` });
    });
    const ask = async (forwardedFor?: string) => {
      const headers: Record<string, string> = { 'user-agent': UA };
      if (forwardedFor !== undefined) headers['x-forwarded-for'] = forwardedFor;
      const { body } = await request(app).get('/').set(headers);
      expect(body.kept).toBe(body.expected);
      expect(body.plain).toBe(body.expected);
      return (body.expected as string).slice(0, -UA.length - 1);
    };
    return { app, ask };
  }

  it('is req.ip and the user agent, behind a trusted proxy and without one', async () => {
    const { app, ask } = probe();
    expect(await ask('203.0.113.9')).toMatch(/127\.0\.0\.1|::1/);
    app.set('trust proxy', 'loopback');
    expect(await ask('203.0.113.9')).toBe('203.0.113.9');
    expect(await ask('203.0.113.9')).toBe('203.0.113.9');
    expect(await ask('198.51.100.7, 203.0.113.9')).toBe('203.0.113.9');
    expect(await ask('10.0.0.1, 127.0.0.1')).toBe('10.0.0.1');
    expect(await ask()).toMatch(/127\.0\.0\.1|::1/);
  });

  it('follows a change of trust proxy at runtime', async () => {
    const { app, ask } = probe();
    app.set('trust proxy', 'loopback');
    expect(await ask('203.0.113.9')).toBe('203.0.113.9');
    app.set('trust proxy', false);
    expect(await ask('203.0.113.9')).toMatch(/127\.0\.0\.1|::1/);
    app.set('trust proxy', 2);
    expect(await ask('198.51.100.7, 203.0.113.9')).toBe('198.51.100.7');
  });

  it('follows the user agent of each request from the same address', async () => {
    const app = express();
    app.set('trust proxy', 'loopback');
    const visitorOf = createRemoteVisitor();
    app.get('/', (req, res) => res.json({ visitor: visitorOf(req)?.raw ?? null }));
    const visit = async (agent?: string) => {
      const req = request(app).get('/').set('x-forwarded-for', '203.0.113.9');
      if (agent !== undefined) req.set('user-agent', agent);
      return (await req).body.visitor;
    };
    expect(await visit('agent A')).toBe('203.0.113.9 agent A');
    expect(await visit('agent B')).toBe('203.0.113.9 agent B');
    expect(await visit('agent A')).toBe('203.0.113.9 agent A');
  });

  it('gives a returning client the same visitor, however its proxies wrote the address', async () => {
    const app = express();
    app.set('trust proxy', 'loopback');
    const visitorOf = createRemoteVisitor();
    const seen: unknown[] = [];
    app.get('/', (req, res) => {
      seen.push(visitorOf(req));
      res.end();
    });
    for (const forwardedFor of ['203.0.113.9', '203.0.113.9', '198.51.100.7, 203.0.113.9', '203.0.113.10']) {
      await request(app).get('/').set({ 'user-agent': UA, 'x-forwarded-for': forwardedFor });
    }
    const [first, second, viaTwoProxies, other] = seen;
    expect(second).toBe(first);
    expect(viaTwoProxies).toBe(first);
    expect(other).not.toBe(first);
    expect((other as { raw: string }).raw).toBe(`203.0.113.10 ${UA}`);
  });

  it('keeps nothing when trust proxy is a function, which may answer differently over time', async () => {
    const { app, ask } = probe();
    let trusted = true;
    app.set('trust proxy', () => trusted);
    expect(await ask('203.0.113.9')).toBe('203.0.113.9');
    trusted = false;
    expect(await ask('203.0.113.9')).toMatch(/127\.0\.0\.1|::1/);
  });
});
