// Calendar periods for page-view keys: days in a time zone, ISO weeks, months and years, and their ranges.
import { optionError } from '../core/index.js';

/** A reporting granularity. Weeks are ISO 8601 weeks (Monday to Sunday, named by their ISO week-year). */
export type Granularity = 'day' | 'week' | 'month' | 'year';

/** All granularities, finest first. */
export const GRANULARITIES: readonly Granularity[] = ['day', 'week', 'month', 'year'];

/** The one-letter code of each granularity used inside Redis keys. */
export const GRANULARITY_CODE: Readonly<Record<Granularity, string>> = {
  day: 'd',
  week: 'w',
  month: 'm',
  year: 'y',
};

const DAY_MS = 86_400_000;
const DAY_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;
const WEEK_PATTERN = /^(\d{4})-W(\d{2})$/;
const MONTH_PATTERN = /^(\d{4})-(\d{2})$/;
const YEAR_PATTERN = /^(\d{4})$/;

/**
 * Turns instants into local calendar days (`YYYY-MM-DD`) in one IANA time zone. Building the formatter is the
 * expensive part, so one is made per middleware; `dayOf` is called once per minute on the hot path at most.
 */
export interface DayClock {
  readonly timeZone: string;
  /** The local day containing the instant. */
  dayOf(ms: number): string;
}

/** Builds a {@link DayClock}; throws a RangeError for a time zone the runtime does not know. */
export function createDayClock(timeZone: string): DayClock {
  if (timeZone === 'UTC' || timeZone === 'Etc/UTC') {
    return { timeZone, dayOf: (ms) => new Date(ms).toISOString().slice(0, 10) };
  }
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    calendar: 'iso8601',
    numberingSystem: 'latn',
  });
  return {
    timeZone,
    dayOf(ms) {
      let year = '';
      let month = '';
      let day = '';
      for (const part of format.formatToParts(ms)) {
        if (part.type === 'year') year = part.value;
        else if (part.type === 'month') month = part.value;
        else if (part.type === 'day') day = part.value;
      }
      return `${year.padStart(4, '0')}-${month}-${day}`;
    },
  };
}

/** The ISO 8601 week (`GGGG-Www`) of a calendar day: the week-year is the year of that week's Thursday. */
export function isoWeekOf(day: string): string {
  const utc = dayToUtc(day);
  const weekday = (new Date(utc).getUTCDay() + 6) % 7; // Monday = 0
  const thursday = utc + (3 - weekday) * DAY_MS;
  const weekYear = new Date(thursday).getUTCFullYear();
  const week = Math.floor((thursday - Date.UTC(weekYear, 0, 1)) / DAY_MS / 7) + 1;
  return `${weekYear}-W${String(week).padStart(2, '0')}`;
}

/** The period of `granularity` that contains a calendar day. */
export function periodOfDay(day: string, granularity: Granularity): string {
  switch (granularity) {
    case 'day':
      return day;
    case 'week':
      return isoWeekOf(day);
    case 'month':
      return day.slice(0, 7);
    case 'year':
      return day.slice(0, 4);
  }
}

/** The first calendar day of a period, and the first day after it. */
export function periodDays(period: string, granularity: Granularity): { first: string; next: string } {
  const first = firstDayOf(period, granularity);
  const start = dayToUtc(first);
  const date = new Date(start);
  let next: number;
  switch (granularity) {
    case 'day':
      next = start + DAY_MS;
      break;
    case 'week':
      next = start + 7 * DAY_MS;
      break;
    case 'month':
      next = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
      break;
    case 'year':
      next = Date.UTC(date.getUTCFullYear() + 1, 0, 1);
      break;
  }
  return { first, next: utcToDay(next) };
}

/**
 * An instant safely after the end of a period in any time zone: midnight UTC after its last day plus 14 hours
 * (the largest UTC offset in use). Key expiries count from here.
 */
export function periodEndMs(period: string, granularity: Granularity): number {
  return dayToUtc(periodDays(period, granularity).next) + 14 * 3_600_000;
}

/** Whether `value` is a well-formed period of `granularity` (a real calendar date for days). */
export function isPeriod(value: string, granularity: Granularity): boolean {
  switch (granularity) {
    case 'day':
      return isDay(value);
    case 'week': {
      const match = WEEK_PATTERN.exec(value);
      if (!match) return false;
      const week = Number(match[2]);
      return week >= 1 && week <= 53 && isoWeekOf(mondayOfIsoWeek(Number(match[1]), week)) === value;
    }
    case 'month': {
      const match = MONTH_PATTERN.exec(value);
      return match !== null && Number(match[2]) >= 1 && Number(match[2]) <= 12;
    }
    case 'year':
      return YEAR_PATTERN.test(value);
  }
}

/** Whether `value` is a real calendar date written `YYYY-MM-DD`. */
export function isDay(value: string): boolean {
  const match = DAY_PATTERN.exec(value);
  if (!match) return false;
  const utc = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  return Number(match[1]) >= 1970 && utcToDay(utc) === value;
}

/**
 * Lists the periods of `granularity` from the one containing `from` to the one containing `to`, inclusive.
 * `from` and `to` are periods of that granularity or calendar days.
 */
export function periodsBetween(from: string, to: string, granularity: Granularity, max: number): string[] {
  const first = isDay(from) ? periodOfDay(from, granularity) : from;
  const last = isDay(to) ? periodOfDay(to, granularity) : to;
  const periods: string[] = [];
  let period = first;
  while (period <= last) {
    if (periods.length >= max) {
      throw optionError(
        'ERR_OPTION_RANGE',
        'pageViews',
        'from/to',
        `at most ${max} periods apart`,
        `${from} to ${to}`,
      );
    }
    periods.push(period);
    period = periodOfDay(periodDays(period, granularity).next, granularity);
  }
  return periods;
}

function firstDayOf(period: string, granularity: Granularity): string {
  switch (granularity) {
    case 'day':
      return period;
    case 'week': {
      const match = WEEK_PATTERN.exec(period);
      return mondayOfIsoWeek(Number(match?.[1]), Number(match?.[2]));
    }
    case 'month':
      return `${period}-01`;
    case 'year':
      return `${period}-01-01`;
  }
}

function mondayOfIsoWeek(weekYear: number, week: number): string {
  // 4 January is always in week 1; its Monday starts week 1.
  const jan4 = Date.UTC(weekYear, 0, 4);
  const weekday = (new Date(jan4).getUTCDay() + 6) % 7;
  return utcToDay(jan4 - weekday * DAY_MS + (week - 1) * 7 * DAY_MS);
}

function dayToUtc(day: string): number {
  return Date.UTC(Number(day.slice(0, 4)), Number(day.slice(5, 7)) - 1, Number(day.slice(8, 10)));
}

function utcToDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
