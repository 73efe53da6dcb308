// Requests made in one turn of the event loop are decided in script calls of up to BATCH_SIZE checks: exactly as
// if each had been sent alone, one after the other, at the same time.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createGcra } from '../../src/rate-limit/gcra-script.js';
import type { LimitReply, LimitScript } from '../../src/rate-limit/limit-script.js';
import { createSlidingLog } from '../../src/rate-limit/sliding-log-script.js';
import { createSlidingWindow } from '../../src/rate-limit/window-script.js';
import { BATCH_SIZE } from '../../src/redis/index.js';
import { useTestRedis } from '../helpers/redis.js';

const redis = useTestRedis();
const client = redis.connect();
let run = 0;

interface Rule {
  limit: number;
  windowMs: number;
  burst: number;
}

const algorithms: {
  name: string;
  create: (rules: Rule[]) => LimitScript;
  state: (key: string) => Promise<unknown>;
}[] = [
  {
    name: 'sliding-log',
    create: (rules) => createSlidingLog(client, rules),
    // Members carry a sequence number of their batch; what counts is each unit's time.
    state: async (key) => (await client.zrange(key, 0, -1, 'WITHSCORES')).filter((_, i) => i % 2 === 1),
  },
  {
    name: 'sliding-window',
    create: (rules) => createSlidingWindow(client, rules, 6),
    state: (key) => client.hgetall(key),
  },
  {
    name: 'gcra',
    create: (rules) => createGcra(client, rules),
    state: (key) => client.hgetall(key),
  },
];

const batches = fc.record({
  limit: fc.integer({ min: 1, max: 8 }),
  burst: fc.integer({ min: 1, max: 8 }),
  shorter: fc.option(fc.integer({ min: 1, max: 4 })),
  requests: fc.array(
    fc.record({
      client: fc.integer({ min: 0, max: 2 }),
      cost: fc.integer({ min: 0, max: 4 }),
      peek: fc.boolean(),
    }),
    { minLength: 1, maxLength: 40 },
  ),
});

describe('a batch of requests decided in one script call', () => {
  for (const algorithm of algorithms) {
    it(`${algorithm.name}: decides and stores exactly as the same requests sent one by one at the same time`, async () => {
      await fc.assert(
        fc.asyncProperty(batches, async ({ limit, burst, shorter, requests }) => {
          run += 1;
          const rules: Rule[] = [{ limit, windowMs: 60_000, burst }];
          if (shorter !== null) rules.push({ limit: shorter, windowMs: 6_000, burst: shorter });
          const script = algorithm.create(rules);
          const batched = (c: number) => redis.prefix(`rl:batch:${run}:{b${c}}`);
          const alone = (c: number) => redis.prefix(`rl:batch:${run}:{a${c}}`);
          // Made in one turn of the event loop: one batch, decided at one Redis time.
          const replies = await Promise.all(
            requests.map((r) => script.hit(batched(r.client), r.cost, !r.peek)),
          );
          const now = (replies[0] as LimitReply).nowUs;
          expect(replies.every((reply) => reply.nowUs === now)).toBe(true);
          for (const [i, r] of requests.entries()) {
            const reply = await script.hitAt(alone(r.client), r.cost, !r.peek, now);
            expect(replies[i], `request ${i} of ${JSON.stringify(requests)}`).toEqual(reply);
          }
          for (let c = 0; c <= 2; c++) {
            expect(await algorithm.state(batched(c))).toEqual(await algorithm.state(alone(c)));
          }
        }),
        { numRuns: 60 },
      );
    });
  }

  it('sends the checks of 200 concurrent requests over 20 clients in script calls of BATCH_SIZE checks', async () => {
    const script = createGcra(client, [{ limit: 1_000, windowMs: 60_000, burst: 1_000 }]);
    const calls = async () => {
      const stats = await client.info('commandstats');
      return [...stats.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)].reduce(
        (n, m) => n + Number(m[1]),
        0,
      );
    };
    await script.hit(redis.prefix('rl:batch:warm'), 1, true); // the first call on a connection loads the script
    const before = await calls();
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) => script.hit(redis.prefix(`rl:batch:many:{${i % 20}}`), 1, true)),
    );
    expect((await calls()) - before).toBe(Math.ceil(200 / BATCH_SIZE));
    expect(replies.every((reply) => reply.allowed)).toBe(true);
    // Ten requests per client, each seeing the ones before it.
    const remaining = replies.filter((_, i) => i % 20 === 0).map((reply) => reply.remaining[0]);
    expect(remaining).toEqual([999, 998, 997, 996, 995, 994, 993, 992, 991, 990]);
  });
});
