/** Time zones by their IANA names: how far a zone's wall clock is ahead of UTC at an instant. */

const formats = new Map<string, Intl.DateTimeFormat>();

function formatOf(timezone: string): Intl.DateTimeFormat {
  let format = formats.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", { timeZone: timezone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" });
    if (formats.size > 1000) formats.clear();
    formats.set(timezone, format);
  }
  return format;
}

/** Milliseconds `timezone`'s wall clock is ahead of UTC at `at` (to the second). Throws for an unknown zone. */
export function zoneOffsetMs(at: number, timezone: string): number {
  const parts = Object.fromEntries(
    formatOf(timezone)
      .formatToParts(at)
      .map((p) => [p.type, Number(p.value)]),
  );
  return Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!) - Math.floor(at / 1000) * 1000;
}

/**
 * The instant `timezone`'s clocks change between `fromMs` and `toMs` (whose offsets differ), to the
 * second: the first instant with the new offset.
 */
export function clockChange(fromMs: number, toMs: number, timezone: string): number {
  const before = zoneOffsetMs(fromMs, timezone);
  let [lo, hi] = [Math.floor(fromMs / 1000) * 1000, Math.ceil(toMs / 1000) * 1000];
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (zoneOffsetMs(mid, timezone) === before) lo = mid;
    else hi = mid;
  }
  return hi;
}
