// `npm run test:dates`: the date-sensitive page-view suites with the clock shifted (libfaketime) to hard days.
import { spawnSync } from 'node:child_process';

/** The suites whose results depend on today's date (periods, rollups, retention, live minutes). */
const SUITES = [
  'test/page-views/uniques.test.ts',
  'test/page-views/cluster.test.ts',
  'test/page-views/counting.test.ts',
  'test/page-views/keys.test.ts',
  'test/page-views/beacon.test.ts',
  'test/page-views/live.test.ts',
  'test/page-views/outage.test.ts',
  'test/page-views/cached-pages.test.ts',
];
/** The time zone with daylight saving time that the suites configure (`uniques.test.ts`). */
const ZONE = 'Europe/Berlin';
const DAY = 86_400_000;

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The next occurrences of the hard days, so they always lie ahead of the real clock (Redis keeps the real one,
 * see test/helpers/redis-server.ts): the last days of a year with 53 ISO weeks and the 1 January inside that
 * week, a daylight-saving change in {@link ZONE} (a minute before it), and 29 February.
 */
function hardDays(now = Date.now()): { name: string; at: number }[] {
  let year = new Date(now).getUTCFullYear();
  while (!has53Weeks(year) || Date.UTC(year, 11, 28, 12) < now + DAY) year += 1;
  let leap = new Date(now).getUTCFullYear();
  while (!isLeap(leap) || Date.UTC(leap, 1, 29, 12) < now + DAY) leap += 1;
  const change = nextOffsetChange(ZONE, now + DAY);
  return [
    { name: `Monday of ${year}-W53`, at: Date.UTC(year, 11, 28, 12) },
    { name: `31 December of ${year} (in W53)`, at: Date.UTC(year, 11, 31, 12) },
    { name: `1 January of ${year + 1} (in ${year}-W53)`, at: Date.UTC(year + 1, 0, 1, 12) },
    { name: `a minute before the ${ZONE} clock change`, at: change - 60_000 },
    { name: `29 February ${leap}`, at: Date.UTC(leap, 1, 29, 12) },
  ];
}

function has53Weeks(year: number): boolean {
  const jan1 = new Date(Date.UTC(year, 0, 1)).getUTCDay();
  return jan1 === 4 || (isLeap(year) && jan1 === 3);
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** The UTC offset of `zone` at an instant, in minutes. */
function offsetOf(zone: string, at: number): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    timeZoneName: 'longOffset',
  }).formatToParts(at);
  const name = parts.find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const match = /GMT([+-])(\d{2}):(\d{2})/.exec(name);
  if (!match) return 0;
  return (match[1] === '-' ? -1 : 1) * (Number(match[2]) * 60 + Number(match[3]));
}

/** The first instant after `from` (to the minute) where the zone's offset changes. */
function nextOffsetChange(zone: string, from: number): number {
  const start = offsetOf(zone, from);
  let t = from - (from % 3_600_000);
  while (offsetOf(zone, t) === start) t += 3_600_000;
  let low = t - 3_600_000;
  while (t - low > 60_000) {
    const mid = low + Math.floor((t - low) / 120_000) * 60_000;
    if (offsetOf(zone, mid) === start) low = mid;
    else t = mid;
  }
  return t;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync(command, args, { stdio: ['ignore', 'pipe', 'inherit'], env, encoding: 'utf8' });
}

function main(): void {
  if (run('faketime', ['-f', '+0', 'true'], process.env).error) {
    console.error(
      'test:dates needs libfaketime: apt-get install faketime (Debian, Ubuntu) or brew install libfaketime.',
    );
    process.exit(1);
  }
  let failed = 0;
  for (const { name, at } of hardDays()) {
    const stamp = `@${iso(at).slice(0, 19).replace('T', ' ')}`;
    // TZ=UTC: faketime reads the stamp in local time. The monotonic clock stays real (timers, deadlines).
    const env = { ...process.env, TZ: 'UTC', FAKETIME_DONT_FAKE_MONOTONIC: '1' };
    const probe = run('faketime', ['-f', stamp, 'node', '-p', 'Date.now()'], env);
    const seen = Number(probe.stdout);
    if (!(Math.abs(seen - at) < 60_000)) {
      console.error(`test:dates: the clock did not shift to ${iso(at)} (node saw ${probe.stdout.trim()})`);
      process.exit(1);
    }
    console.log(`\n=== ${name}: ${iso(at)}`);
    const result = spawnSync('faketime', ['-f', stamp, 'npx', 'vitest', 'run', ...SUITES], {
      stdio: 'inherit',
      env,
    });
    if (result.status !== 0) {
      failed += 1;
      console.error(`=== FAILED with the clock at ${iso(at)} (${name})`);
    }
  }
  process.exit(failed === 0 ? 0 : 1);
}

if (process.argv.includes('--list'))
  console.log(
    hardDays()
      .map((d) => `${new Date(d.at).toISOString()}  ${d.name}`)
      .join('\n'),
  );
else main();
