// Period naming: ISO weeks at year boundaries, months, years, time zones and DST (pure code, no Redis).
import { describe, expect, it } from 'vitest';
import {
  createDayClock,
  isoWeekOf,
  isPeriod,
  periodDays,
  periodOfDay,
  periodsBetween,
} from '../../src/page-views/periods.js';
import { configErrorCode } from '../helpers/config-error.js';

describe('ISO weeks', () => {
  it.each([
    ['2026-12-31', '2026-W53'], // Thursday: 2026 has 53 ISO weeks
    ['2027-01-01', '2026-W53'], // Friday of the same week belongs to 2026's week-year
    ['2027-01-03', '2026-W53'], // Sunday
    ['2027-01-04', '2027-W01'], // Monday
    ['2024-12-30', '2025-W01'], // Monday of week 1 of 2025, still in calendar 2024
    ['2024-12-29', '2024-W52'],
    ['2021-01-03', '2020-W53'],
    ['2021-01-04', '2021-W01'],
    ['2025-12-31', '2026-W01'],
    ['2026-11-21', '2026-W47'],
  ])('%s is in %s', (day, week) => {
    expect(isoWeekOf(day)).toBe(week);
    expect(periodOfDay(day, 'week')).toBe(week);
  });

  it('names the days of a week, Monday to Sunday', () => {
    expect(periodDays('2026-W53', 'week')).toEqual({ first: '2026-12-28', next: '2027-01-04' });
    expect(periodDays('2025-W01', 'week')).toEqual({ first: '2024-12-30', next: '2025-01-06' });
  });

  it('knows which week numbers exist', () => {
    expect(isPeriod('2026-W53', 'week')).toBe(true);
    expect(isPeriod('2027-W53', 'week')).toBe(false);
    expect(isPeriod('2026-W00', 'week')).toBe(false);
  });
});

describe('months and years', () => {
  it('derives them from the day', () => {
    expect(periodOfDay('2026-12-31', 'month')).toBe('2026-12');
    expect(periodOfDay('2027-01-01', 'month')).toBe('2027-01');
    expect(periodOfDay('2026-12-31', 'year')).toBe('2026');
    expect(periodDays('2028-02', 'month')).toEqual({ first: '2028-02-01', next: '2028-03-01' });
    expect(periodDays('2026', 'year')).toEqual({ first: '2026-01-01', next: '2027-01-01' });
  });

  it('lists the periods between two days across a year boundary', () => {
    expect(periodsBetween('2026-12-30', '2027-01-02', 'day', 100)).toEqual([
      '2026-12-30',
      '2026-12-31',
      '2027-01-01',
      '2027-01-02',
    ]);
    expect(periodsBetween('2026-12-20', '2027-01-12', 'week', 100)).toEqual([
      '2026-W51',
      '2026-W52',
      '2026-W53',
      '2027-W01',
      '2027-W02',
    ]);
    expect(periodsBetween('2026-11', '2027-02', 'month', 100)).toEqual([
      '2026-11',
      '2026-12',
      '2027-01',
      '2027-02',
    ]);
    expect(configErrorCode(() => periodsBetween('2020-01-01', '2030-01-01', 'day', 100))).toBe(
      'ERR_OPTION_RANGE',
    );
  });
});

describe('days in a time zone', () => {
  it('starts days at local midnight', () => {
    const berlin = createDayClock('Europe/Berlin');
    expect(berlin.dayOf(Date.parse('2026-12-31T22:59:59Z'))).toBe('2026-12-31');
    expect(berlin.dayOf(Date.parse('2026-12-31T23:00:00Z'))).toBe('2027-01-01');
    const utc = createDayClock('UTC');
    expect(utc.dayOf(Date.parse('2026-12-31T23:00:00Z'))).toBe('2026-12-31');
    const la = createDayClock('America/Los_Angeles');
    expect(la.dayOf(Date.parse('2027-01-01T07:59:59Z'))).toBe('2026-12-31');
    expect(la.dayOf(Date.parse('2027-01-01T08:00:00Z'))).toBe('2027-01-01');
  });

  it('follows daylight saving time changes', () => {
    const berlin = createDayClock('Europe/Berlin');
    // summer time (UTC+2) until 25 October 2026 01:00 UTC
    expect(berlin.dayOf(Date.parse('2026-10-24T21:59:59Z'))).toBe('2026-10-24');
    expect(berlin.dayOf(Date.parse('2026-10-24T22:00:00Z'))).toBe('2026-10-25');
    // winter time (UTC+1) afterwards
    expect(berlin.dayOf(Date.parse('2026-10-25T22:59:59Z'))).toBe('2026-10-25');
    expect(berlin.dayOf(Date.parse('2026-10-25T23:00:00Z'))).toBe('2026-10-26');
  });

  it('refuses an unknown zone', () => {
    expect(() => createDayClock('Mars/Olympus_Mons')).toThrow(RangeError);
  });
});
