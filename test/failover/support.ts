// The failover scenario shared by the Sentinel and Cluster suites: every middleware and the shop under load
// while a master is SIGKILLed and its replica promoted, with what must hold through it and what is measured.
import { type Cluster, Redis } from 'ioredis';
import { expect } from 'vitest';
import { createShopApp, type ShopApp } from '../../example-app/app.js';
import { rateLimit } from '../../src/index.js';
import {
  type Answer,
  type Call,
  call,
  type Listening,
  listen,
  loadLoop,
  sessionCookie,
  sleep,
  watchUnhandledRejections,
} from '../faults/support.js';
import { type FullStack, fullStackApp } from '../helpers/full-stack.js';
import { configOf, scriptSrc, todayUtc } from '../page-views/support.js';

/** The client timeout the production docs recommend; every middleware call waits at most this long. */
export const COMMAND_TIMEOUT_MS = 500;
/** How long after the topology promoted the replica every part may take to work fully again. */
export const RECOVERY_MARGIN_MS = 2_000;
/** Longest answer allowed from a middleware route: one timeout, plus scheduling on a loaded machine. */
const ANSWER_BOUND_MS = COMMAND_TIMEOUT_MS + 1_500;
/** Longest answer allowed from the shop, whose own handlers make several Redis calls in a row. */
const SHOP_ANSWER_BOUND_MS = 6 * COMMAND_TIMEOUT_MS + 1_500;
const QUOTA_LIMIT = 5_000;
const SHOP_SECRET = 'failover-shop-secret-0123456789-abcdefghij';

/** What a failover suite needs from its topology. */
export interface Topology {
  /** A client with the options the production docs recommend for this topology. */
  readonly client: Redis | Cluster;
  /**
   * How long the topology waits before it considers a master down: Sentinel `down-after-milliseconds`,
   * Cluster `cluster-node-timeout`. Election and promotion come on top.
   */
  readonly detectionMs: number;
  /** True when `key` lives on the master that will be killed (on Sentinel: every key). */
  onVictim(key: string): Promise<boolean>;
  /** Completes one replication round from the victim to its replica; resolves with the time it began. */
  replicationRound(): Promise<number>;
  /** SIGKILLs the victim. */
  kill(): Promise<void>;
  /** True once the topology names the replica as the master. */
  promoted(): Promise<boolean>;
  /** The port of the replica that takes over. */
  readonly replicaPort: number;
}

type Policy = 'fail-closed' | 'anonymous';
type Kind = 'home' | 'home+cookie' | 'signed' | 'product' | 'quota' | 'cart+cookie' | 'beacon' | 'other';
const MIX = ['home', 'home+cookie', 'signed', 'product', 'quota', 'cart+cookie', 'beacon'] as const;

interface Stack {
  readonly policy: Policy;
  readonly prefix: string;
  readonly stack: FullStack;
  readonly served: Listening;
  /** An anonymous session with a cart, written before the kill. */
  cart: string;
  /** Signed-in sessions written before the kill, by user id; `onVictim` lists the ones on the killed master. */
  readonly signedIn: Map<string, string>;
  readonly onVictim: string[];
  token: string;
  /** A rate-limit client key whose log lives on the killed master. */
  probeKey: string;
  readonly quota: ReturnType<typeof rateLimit>;
  /** Arrival times of the live `summary` events. */
  readonly summaries: number[];
  stopLive(): void;
}

interface Shopper {
  readonly username: string;
  cookie: string;
}

interface Order {
  readonly id: string;
  readonly shopper: Shopper;
  /** When the 201 arrived. */
  readonly acknowledgedAt: number;
}

/** The measured figures of one run. */
export interface FailoverReport {
  /** From the kill to the start of the first probe round in which everything worked (the error window). */
  gapMs: number;
  /** From the kill until the topology named the replica as master. */
  promotedMs: number;
  /** Answers in all, and load answers sent during the error window. */
  answers: number;
  duringGap: number;
  /** The slowest answer of the middleware apps, and of the shop. */
  slowestMs: number;
  slowestShopMs: number;
  /** Rate-limit hits answered with headers but missing after the failover; hits answered in the last round. */
  hitsLost: number;
  hitsAtRisk: number;
  ordersAcknowledged: number;
  /** Orders answered 201 after the last replication round and before the kill (may be lost), and lost ones. */
  ordersAtRisk: number;
  ordersLost: number;
}

export interface Failover {
  /** Starts the apps and writes the state that must survive. */
  setUp(): Promise<void>;
  /** Runs the load, kills the master, waits for recovery and checks everything; returns the figures. */
  run(): Promise<FailoverReport>;
  close(): Promise<void>;
}

/**
 * Two full stacks (sessions fail-closed and anonymous; rate limit, cache and page views fail-open, with a live
 * stream open) and the shop, all on `topology.client`, with per-app key prefixes chosen so that on a Cluster
 * the page views, the shop and the probes' keys live on the master that dies.
 */
export function failover(topology: Topology): Failover {
  const client = topology.client;
  const stacks: Stack[] = [];
  const shoppers: Shopper[] = [];
  let shop: ShopApp | undefined;
  let shopServed: Listening | undefined;
  const shopLog: string[] = [];
  const rejections = watchUnhandledRejections();
  const tagOf = new WeakMap<Answer, { kind: Kind; stack?: Stack }>();
  const everyAnswer: Answer[] = [];
  let sequence = 0;
  /** What was wrong in the last probe round, for the message of a run that never recovers. */
  let lastProbe: string[] = [];
  /** Stops the load of a run that failed half-way, before the servers close. */
  let stopLoad: () => Promise<unknown> = async () => {};

  async function request(stack: Stack, kind: Kind, path: string, options: Call = {}): Promise<Answer> {
    const answer = await call(stack.served.url, path, options);
    tagOf.set(answer, { kind, stack });
    everyAnswer.push(answer);
    return answer;
  }

  async function prefixOnVictim(base: string): Promise<string> {
    for (let i = 0; i < 200; i++) {
      const prefix = `${base}${i}:`;
      if (await topology.onVictim(`{${prefix}pv}`)) return prefix;
    }
    throw new Error('no prefix whose page views live on the victim');
  }

  async function keyOnVictim(base: string): Promise<string> {
    for (let i = 0; i < 200; i++) if (await topology.onVictim(`{${base}${i}}`)) return `${base}${i}`;
    throw new Error('no rate-limit key on the victim');
  }

  /** Signs users in until two of their sessions live on the victim (on Sentinel: the first two). */
  async function signIn(stack: Stack): Promise<void> {
    for (let i = 0; stack.onVictim.length < 2; i++) {
      if (i >= 40) throw new Error('no signed-in session landed on the victim');
      const user = `${stack.policy}-user-${i}`;
      const answer = await request(stack, 'other', `/sign-in/${user}`, { method: 'POST' });
      expect(answer.status).toBe(200);
      const cookie = sessionCookie(answer);
      stack.signedIn.set(user, cookie);
      const sessions = await stack.stack.sessions.listForUser(user);
      expect(sessions).toHaveLength(1);
      const handle = (JSON.parse(answer.text) as { handle: string }).handle;
      if (await sessionOnVictim(stack, handle)) stack.onVictim.push(user);
    }
  }

  /** Whether the session with `handle` is stored on the victim: its key is found there by SCAN. */
  async function sessionOnVictim(stack: Stack, handle: string): Promise<boolean> {
    const keys = await scanEveryMaster(client, `${stack.prefix}sess:*${handle}*`);
    const key = keys[0];
    if (key === undefined) throw new Error(`no session key for ${handle}`);
    return topology.onVictim(key);
  }

  function openLive(stack: Stack): void {
    const abort = new AbortController();
    stack.stopLive = () => abort.abort();
    void fetch(`${stack.served.url}/live`, { signal: abort.signal })
      .then(async (response) => {
        const decoder = new TextDecoder();
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          const text = decoder.decode(chunk, { stream: true });
          for (const _ of text.matchAll(/^event: summary$/gm)) stack.summaries.push(Date.now());
        }
      })
      .catch(() => {});
  }

  function send(kind: (typeof MIX)[number], stack: Stack, worker: number): Promise<Answer> {
    switch (kind) {
      case 'home':
        return request(stack, kind, '/');
      case 'home+cookie':
        return request(stack, kind, '/', { cookie: stack.cart });
      case 'signed': {
        const users = [...stack.signedIn.values()];
        return request(stack, kind, '/state', { cookie: users[worker % users.length] as string });
      }
      case 'product':
        return request(stack, kind, `/products/${1 + (worker % 9)}`);
      case 'quota':
        return request(stack, kind, `/quota?client=worker-${worker}`);
      case 'cart+cookie':
        return request(stack, kind, '/cart/3', { method: 'POST', cookie: stack.cart });
      case 'beacon':
        return request(stack, kind, '/_pv', {
          method: 'POST',
          contentType: 'text/plain',
          body: JSON.stringify({ t: stack.token, s: ++sequence, ms: 1_000 }),
        });
    }
  }

  /** The answer of a middleware working normally against Redis. */
  function normal(answer: Answer): boolean {
    const { kind, stack } = tagOf.get(answer) ?? { kind: 'other' };
    const cacheStatus = answer.headers.get('cache-status') ?? '';
    switch (kind) {
      case 'home':
        return answer.status === 200;
      case 'home+cookie':
        return answer.status === 200 && !answer.text.includes('cart: 0');
      case 'signed':
        return answer.status === 200 && signedInAs(answer, stack);
      case 'cart+cookie':
        return answer.status === 200 && answer.text.includes('"2":1');
      case 'product':
        return answer.status === 200 && cacheStatus !== '' && !cacheStatus.includes('redis-error');
      case 'quota':
        return answer.status === 200 && answer.headers.get('ratelimit') !== null;
      case 'beacon':
        return answer.status === 204 || answer.status === 409;
      default:
        return true;
    }
  }

  /** The answer of a middleware applying its documented policy because Redis failed. */
  function policy(answer: Answer): boolean {
    const { kind, stack } = tagOf.get(answer) ?? { kind: 'other' };
    switch (kind) {
      case 'home':
        return answer.status === 200;
      case 'home+cookie':
      case 'signed':
      case 'cart+cookie':
        if (stack?.policy === 'fail-closed') {
          return answer.status === 503 && answer.text.includes('ERR_SESSION_STORE');
        }
        if (answer.status !== 200 || answer.headers.getSetCookie().length > 0) return false;
        if (kind === 'home+cookie') return answer.text.includes('cart: 0');
        if (kind === 'signed') return (JSON.parse(answer.text) as { userId: unknown }).userId === null;
        return answer.text.includes('{"cart":{"3":1}}');
      case 'product':
        return answer.status === 200 && /detail=redis-error/.test(answer.headers.get('cache-status') ?? '');
      case 'quota':
        return answer.status === 200 && answer.headers.get('ratelimit') === null;
      case 'beacon':
        return answer.status === 204;
      default:
        return true;
    }
  }

  function signedInAs(answer: Answer, stack: Stack | undefined): boolean {
    const { userId } = JSON.parse(answer.text) as { userId: string | null };
    return userId !== null && stack?.signedIn.get(userId) !== undefined;
  }

  const describe = (a: Answer) => {
    const tag = tagOf.get(a);
    return `${tag?.stack?.policy ?? 'shop'} ${tag?.kind} ${a.method} ${a.path} ${a.status} ${Math.round(a.ms)}ms ${a.text.slice(0, 80)}`;
  };

  async function shopCall(shopper: Shopper, path: string, options: Call = {}): Promise<Answer> {
    const answer = await call((shopServed as Listening).url, path, { cookie: shopper.cookie, ...options });
    tagOf.set(answer, { kind: 'other' });
    everyAnswer.push(answer);
    return answer;
  }

  const json = (body: unknown): Call => ({
    method: 'POST',
    contentType: 'application/json',
    body: JSON.stringify(body),
  });

  /** One shopper's loop: add a product, check out, remember every order answered 201. */
  function shopLoop(shopper: Shopper, orders: Order[], running: () => boolean): Promise<Answer[]> {
    return (async () => {
      const answers: Answer[] = [];
      for (let i = 0; running(); i++) {
        const productId = String(1 + ((i * 7 + shopper.username.length) % 20));
        const added = await shopCall(shopper, '/api/cart/items', json({ productId, qty: 1 }));
        answers.push(added);
        if (added.status !== 200) {
          await sleep(50);
          continue;
        }
        const key = `${shopper.username}-${i}-${Date.now()}`;
        const placed = await shopCall(shopper, '/api/checkout', {
          ...json({}),
          headers: { 'idempotency-key': key },
        });
        answers.push(placed);
        if (placed.status === 201) {
          const { orderId } = JSON.parse(placed.text) as { orderId: string };
          orders.push({ id: orderId, shopper, acknowledgedAt: placed.at + placed.ms });
        } else if (placed.status === 409) {
          answers.push(await shopCall(shopper, `/api/cart/items/${productId}`, { method: 'DELETE' }));
        }
        await sleep(20);
      }
      return answers;
    })();
  }

  /** One probe round: true when every part works, on keys that live on the master that died. */
  async function healthy(): Promise<boolean> {
    const results = await Promise.all([
      ...stacks.map(async (stack) => {
        const checks = Promise.all([
          ...stack.onVictim.map((user) =>
            request(stack, 'signed', '/state', { cookie: stack.signedIn.get(user) as string }),
          ),
          request(stack, 'cart+cookie', '/cart/3', { method: 'POST', cookie: stack.cart }),
          request(stack, 'quota', `/quota?client=${stack.probeKey}`),
          ...['1', '2', '3', '4', '5', '6', '7', '8', '9'].map((id) =>
            request(stack, 'product', `/products/${id}`),
          ),
        ]);
        const flushed = stack.stack.views.flush().then(
          () => true,
          () => false,
        );
        // A fresh token's beacon answered 204, then its replay refused with 409, proves the first one was
        // stored, not only answered fail-open.
        const stored = (async () => {
          const home = await request(stack, 'other', '/');
          const script = await request(stack, 'other', scriptSrc(home.text));
          if (script.status !== 200) return false;
          const token = configOf(script.text).t;
          const beacon = () =>
            request(stack, 'other', '/_pv', {
              method: 'POST',
              contentType: 'text/plain',
              body: JSON.stringify({ t: token, s: 1, ms: 500 }),
            });
          return (await beacon()).status === 204 && (await beacon()).status === 409;
        })();
        const bad = (await checks).filter((a) => !normal(a)).map(describe);
        if (!(await flushed)) bad.push('page-view flush failed');
        if (!(await stored)) bad.push('beacon not stored');
        lastProbe = bad;
        return bad.length === 0;
      }),
      shopCall(shoppers[0] as Shopper, '/api/cart').then((a) => {
        if (a.status !== 200) lastProbe = [...lastProbe, describe(a)];
        return a.status === 200;
      }),
    ]);
    return results.every(Boolean);
  }

  return {
    async setUp() {
      for (const policy of ['fail-closed', 'anonymous'] as const) {
        const prefix = await prefixOnVictim(`fo-${policy}-`);
        const stack = fullStackApp({ redis: client, prefix, sessionPolicy: policy, apiLimit: QUOTA_LIMIT });
        // A limiter of its own with a client key per load worker, so its counts can be checked exactly.
        const quota = rateLimit({
          redis: client,
          prefix: `${prefix}rl:`,
          name: 'quota',
          limit: QUOTA_LIMIT,
          window: '1m',
          key: (req) => String(req.query.client),
          logger: stack.logger,
        });
        stack.app.get('/quota', quota, (_req, res) => {
          res.json({ ok: true });
        });
        stack.app.get('/live', stack.views.live());
        const served = await listen(stack.app as never);
        const entry: Stack = {
          policy,
          prefix,
          stack,
          served,
          cart: '',
          signedIn: new Map(),
          onVictim: [],
          token: '',
          probeKey: await keyOnVictim('probe-'),
          quota,
          summaries: [],
          stopLive: () => {},
        };
        stacks.push(entry);
        const created = await request(entry, 'other', '/cart/2', { method: 'POST' });
        expect(created.status).toBe(200);
        entry.cart = sessionCookie(created);
        const home = await request(entry, 'other', '/');
        const script = await request(entry, 'other', scriptSrc(home.text));
        entry.token = configOf(script.text).t;
        await signIn(entry);
        openLive(entry);
      }

      shop = await createShopApp({
        redis: client,
        sessionSecrets: [SHOP_SECRET],
        pageViewSecret: SHOP_SECRET,
        prefix: 'fo-shop:',
        worker: false,
        log: (line) => shopLog.push(line),
        limits: {
          api: { limit: QUOTA_LIMIT, window: '1m', perSecond: QUOTA_LIMIT },
          checkout: { limit: QUOTA_LIMIT, window: '1m' },
        },
      });
      expect(await topology.onVictim('{shop}')).toBe(true);
      shopServed = await listen(shop.app);
      for (const [username, password] of [
        ['alice', 'alice-demo'],
        ['bob', 'bob-demo'],
      ] as const) {
        const shopper: Shopper = { username, cookie: '' };
        const signed = await shopCall(shopper, '/api/session', json({ username, password }));
        expect(signed.status, signed.text).toBe(200);
        shopper.cookie = sessionCookie(signed);
        shoppers.push(shopper);
      }
    },

    async run() {
      let running = true;
      const orders: Order[] = [];
      const shopLoops = shoppers.map((s) => shopLoop(s, orders, () => running));
      const load = loadLoop(8, (w, i) => {
        const stack = stacks[(w + i) % stacks.length] as Stack;
        return send(MIX[(w * 5 + i) % MIX.length] as (typeof MIX)[number], stack, w);
      });
      stopLoad = () => {
        running = false;
        return Promise.allSettled([load.stop(), ...shopLoops]);
      };

      await sleep(1_000);
      // Everything counted so far is written, then copied to the replica; views counted from here on stay
      // buffered through the kill.
      for (const stack of stacks) await stack.stack.views.flush();
      const replicatedAt = await topology.replicationRound();
      const flushedViews = await Promise.all(stacks.map((s) => viewsToday(s)));
      const clientEvents = recordClientEvents(client);
      await topology.kill();
      const killedAt = Date.now();

      let promotedAt = 0;
      const watching = (async () => {
        while (promotedAt === 0 && Date.now() - killedAt < 20_000) {
          if (await topology.promoted()) promotedAt = Date.now();
          else await sleep(20);
        }
      })();
      // Service is back at the start of the first probe round in which every request was served normally.
      let recoveredAt = 0;
      while (recoveredAt === 0 && Date.now() - killedAt < 20_000) {
        const began = Date.now();
        if (await healthy()) recoveredAt = began;
        else await sleep(20);
      }
      await watching;
      // Load goes on after the recovery, and a flush publishes to the live streams.
      await sleep(1_500);
      running = false;
      const answers = await load.stop();
      const shopAnswers = (await Promise.all(shopLoops)).flat();

      expect(
        recoveredAt,
        `never recovered (promoted: ${promotedAt > 0}, client ${(client as Redis).status}): ${lastProbe.join('; ').slice(0, 300)}`,
      ).toBeGreaterThan(0);
      expect(promotedAt, 'the replica was never promoted').toBeGreaterThan(0);
      const gapMs = recoveredAt - killedAt;
      const promotedMs = promotedAt - killedAt;
      // The topology's own failover (detection after `detectionMs`, then election and promotion) is not ours
      // to shorten; from the promotion on, full service is back within the margin.
      expect(gapMs).toBeLessThanOrEqual(promotedMs + RECOVERY_MARGIN_MS);
      expect(promotedMs).toBeGreaterThanOrEqual(topology.detectionMs);
      expect(rejections.seen).toEqual([]);

      // No request hung: each was answered within one timeout (a margin for the loaded machine).
      const middlewareAnswers = everyAnswer.filter((a) => tagOf.get(a)?.stack !== undefined);
      expect(middlewareAnswers.filter((a) => a.ms > ANSWER_BOUND_MS).map(describe)).toEqual([]);
      expect(shopAnswers.filter((a) => a.ms > SHOP_ANSWER_BOUND_MS).map(describe)).toEqual([]);

      // Every middleware answer was either normal or its documented failure policy; never a 500.
      expect(
        middlewareAnswers.filter((a) => !normal(a) && !policy(a)).map(describe),
        'answers that follow no policy',
      ).toEqual([]);
      const duringGap = answers.filter((a) => a.at > killedAt && a.at < recoveredAt);
      expect(duringGap.length).toBeGreaterThan(10);
      // The shop answers every request; 5xx only while Redis fails over.
      const shopAfter = shopAnswers.filter((a) => a.at > recoveredAt + 500);
      expect(shopAfter.filter((a) => a.status >= 500).map(describe)).toEqual([]);

      // After the recovery everything is normal again.
      const after = answers.filter((a) => a.at > recoveredAt);
      expect(after.length).toBeGreaterThan(20);
      expect(
        after.filter((a) => !normal(a)).map(describe),
        timeline(killedAt, recoveredAt, clientEvents.stop(), stacks),
      ).toEqual([]);

      // A replica receives the effects of scripts, not their bodies, so the new master started without them:
      // ioredis sends a script's body on its first use on each connection (and again after NOSCRIPT), and the
      // new master ran them (every script-based answer after the recovery was normal).
      const promoted = new Redis(topology.replicaPort, '127.0.0.1', { maxRetriesPerRequest: 1 });
      promoted.on('error', () => {});
      const commandStats = await promoted.info('commandstats').finally(() => promoted.disconnect());
      expect(commandStats).toMatch(/cmdstat_eval:calls=[1-9]/);

      // Sessions written before the replication round are still there and still signed in.
      for (const stack of stacks) {
        for (const [user, cookie] of stack.signedIn) {
          const state = await request(stack, 'other', '/state', { cookie });
          expect(JSON.parse(state.text)).toMatchObject({ userId: user, isNew: false });
        }
        const home = await request(stack, 'other', '/', { cookie: stack.cart });
        expect(home.text).not.toContain('cart: 0');
      }

      // Rate limits keep counting: every hit answered with headers before the round is counted, and at most
      // the hits answered between the round and the recovery are missing.
      let hitsLost = 0;
      let hitsAtRisk = 0;
      for (const stack of stacks) {
        const quotaAnswers = everyAnswer.filter(
          (a) => tagOf.get(a)?.stack === stack && tagOf.get(a)?.kind === 'quota',
        );
        const clientOf = (a: Answer) => new URL(a.path, 'http://x').searchParams.get('client') as string;
        for (const key of new Set(quotaAnswers.map(clientOf))) {
          const mine = quotaAnswers.filter((a) => clientOf(a) === key);
          const admitted = mine.filter((a) => a.headers.get('ratelimit') !== null);
          const atRisk = admitted.filter((a) => a.at + a.ms >= replicatedAt && a.at <= killedAt).length;
          const counted = QUOTA_LIMIT - (await stack.quota.peek(key)).remaining;
          expect(counted, `hits counted for ${key}`).toBeGreaterThanOrEqual(admitted.length - atRisk);
          expect(counted, `hits counted for ${key}`).toBeLessThanOrEqual(mine.length);
          hitsLost += Math.max(0, admitted.length - counted);
          hitsAtRisk += atRisk;
        }
      }

      // Page views: what was flushed before the round is there; the views buffered through the kill are
      // written after it, each exactly once: every HTML page answered 200 is counted once.
      for (const [i, stack] of stacks.entries()) {
        await stack.stack.views.flush();
        expect(stack.stack.views.stats()).toMatchObject({ bufferedViews: 0, droppedViews: 0 });
        const views = await viewsToday(stack);
        expect(views['/'] ?? 0).toBeGreaterThanOrEqual(flushedViews[i]?.['/'] ?? 0);
        const pages = (path: string) =>
          everyAnswer.filter(
            (a) => tagOf.get(a)?.stack === stack && a.method === 'GET' && a.status === 200 && a.path === path,
          ).length;
        expect(views['/']).toBe(pages('/'));
        expect(views['/products/:id']).toBe(
          ['1', '2', '3', '4', '5', '6', '7', '8', '9'].reduce((n, id) => n + pages(`/products/${id}`), 0),
        );
        // The live stream resubscribed: it received summaries published after the recovery.
        expect(stack.summaries.some((t) => t > recoveredAt)).toBe(true);
      }

      // The shop: every order answered 201 before the replication round is there after the failover; orders
      // answered between the round and the kill may be lost (counted); later ones are all there.
      let ordersLost = 0;
      let ordersAtRisk = 0;
      for (const order of orders) {
        const page = await shopCall(order.shopper, `/orders/${order.id}`, {});
        const found = page.status === 200 && page.text.includes(order.id);
        const atRisk = order.acknowledgedAt >= replicatedAt && order.acknowledgedAt <= killedAt;
        if (atRisk) ordersAtRisk += 1;
        if (!found) {
          expect(atRisk, `order ${order.id} acknowledged at ${order.acknowledgedAt} is lost`).toBe(true);
          ordersLost += 1;
        }
      }
      expect(orders.filter((o) => o.acknowledgedAt < replicatedAt).length).toBeGreaterThan(0);
      expect(orders.filter((o) => o.acknowledgedAt > recoveredAt).length).toBeGreaterThan(0);

      return {
        gapMs,
        promotedMs,
        answers: everyAnswer.length,
        duringGap: duringGap.length,
        slowestMs: Math.round(Math.max(...middlewareAnswers.map((a) => a.ms))),
        slowestShopMs: Math.round(Math.max(...shopAnswers.map((a) => a.ms))),
        hitsLost,
        hitsAtRisk,
        ordersAcknowledged: orders.length,
        ordersAtRisk,
        ordersLost,
      };
    },

    async close() {
      await stopLoad();
      rejections.dispose();
      for (const stack of stacks) {
        stack.stopLive();
        await stack.served.close();
        await stack.stack.close();
        await stack.quota.close().catch(() => {});
      }
      await shopServed?.close();
      await shop?.close().catch(() => {});
    },
  };
}

async function viewsToday(stack: Stack): Promise<Record<string, number>> {
  const today = todayUtc();
  const rows = await stack.stack.views.report({ from: today, to: today, granularity: 'day' });
  return Object.fromEntries(rows.map((r) => [r.route, r.views]));
}

/** Keys matching `pattern` on every master (SCAN, never KEYS). */
async function scanEveryMaster(client: Redis | Cluster, pattern: string): Promise<string[]> {
  const nodes = 'nodes' in client && typeof client.nodes === 'function' ? client.nodes('master') : [client];
  const found: string[] = [];
  for (const node of nodes as Redis[]) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
  }
  return found;
}

/** What the client reported (ioredis events), with times, until `stop()`. */
function recordClientEvents(client: Redis | Cluster): { stop(): { at: number; what: string }[] } {
  const events: { at: number; what: string }[] = [];
  const names = ['error', 'node error', '+node', '-node', 'refresh', 'ready', 'reconnecting', 'close'];
  const listeners = names.map((name) => {
    const listener = (...args: unknown[]) => {
      const detail = args
        .map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : ''))
        .join(' ');
      events.push({ at: Date.now(), what: `${name} ${detail}`.trim() });
    };
    client.on(name, listener);
    return [name, listener] as const;
  });
  return {
    stop() {
      for (const [name, listener] of listeners) client.off(name, listener);
      return events;
    },
  };
}

/** A failed run's story, in ms from the kill: the client's events and the middlewares' log lines. */
function timeline(
  killedAt: number,
  recoveredAt: number,
  events: readonly { at: number; what: string }[],
  stacks: readonly Stack[],
): string {
  const lines = [
    { at: recoveredAt, what: 'recovered (the probe round began)' },
    ...events,
    ...stacks.flatMap((stack) =>
      stack.stack.logger.lines.map((l) => ({
        at: l.at,
        what: `${stack.policy} ${l.level} ${l.message} ${JSON.stringify(l.details ?? {})}`,
      })),
    ),
  ]
    .filter((l) => l.at >= recoveredAt - 200)
    .sort((a, b) => a.at - b.at)
    .slice(0, 100);
  return `answers after the recovery that were not normal; what happened from 200 ms before it:\n${lines
    .map((l) => `${l.at - killedAt} ms ${l.what.slice(0, 200)}`)
    .join('\n')}`;
}
