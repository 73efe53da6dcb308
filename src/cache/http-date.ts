// Strict HTTP-date parsing (RFC 9110 §5.6.7): the three formats the spec defines and nothing else.

const MONTHS: Readonly<Record<string, number>> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};

/** `Sun, 06 Nov 1994 08:49:37 GMT` */
const IMF_FIXDATE =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
/** `Sunday, 06-Nov-94 08:49:37 GMT` (obsolete, two-digit year) */
const RFC850_DATE =
  /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d{2})-([A-Z][a-z]{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
/** `Sun Nov  6 08:49:37 1994` (obsolete, C asctime: the day is space-padded) */
const ASCTIME_DATE =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/**
 * Parses an HTTP-date into epoch milliseconds, or NaN when the value is not one of the three formats of
 * RFC 9110 §5.6.7 exactly (`Date.parse` accepts `UTC`, missing commas, one-digit hours and much more, which
 * would read a malformed `Expires` as a real date). An RFC 850 two-digit year that would be more than 50
 * years after `now` is read as the most recent past year with those digits, as the spec requires.
 */
export function parseHttpDate(value: string, now: number): number {
  let m = IMF_FIXDATE.exec(value);
  if (m !== null) return build(m[3], m[2], m[1], m[4], m[5], m[6]);
  m = ASCTIME_DATE.exec(value);
  if (m !== null) {
    const day = (m[2] as string).trim();
    // asctime pads a one-digit day with a space: " 6" is right, "06" and "6 " are not.
    if (day.length !== 1 && (m[2] as string).startsWith('0')) return Number.NaN;
    return build(m[6], m[1], day, m[3], m[4], m[5]);
  }
  m = RFC850_DATE.exec(value);
  if (m !== null) {
    const two = Number(m[3]);
    const currentYear = new Date(now).getUTCFullYear();
    let year = currentYear - (currentYear % 100) + two;
    if (year > currentYear + 50) year -= 100;
    return build(String(year), m[2], m[1], m[4], m[5], m[6]);
  }
  return Number.NaN;
}

function build(
  year: string | undefined,
  monthName: string | undefined,
  day: string | undefined,
  hour: string | undefined,
  minute: string | undefined,
  second: string | undefined,
): number {
  const month = MONTHS[monthName as string];
  if (month === undefined) return Number.NaN;
  const y = Number(year);
  const d = Number(day);
  const h = Number(hour);
  const mi = Number(minute);
  const s = Number(second);
  // RFC 9110 allows a leap second (60); it names the same instant as :59 plus one second.
  if (d < 1 || h > 23 || mi > 59 || s > 60) return Number.NaN;
  // Date.UTC rolls 31 Feb over into March: such a date is invalid, not a day in another month.
  if (new Date(Date.UTC(y, month, d)).getUTCDate() !== d) return Number.NaN;
  return Date.UTC(y, month, d, h, mi, s);
}
