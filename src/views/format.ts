/** Formatting shared by the views: relative times, durations, JSON for display. */

export function relativeTime(when: Date, now: Date): string {
  const seconds = Math.round((now.getTime() - when.getTime()) / 1000);
  const future = seconds < 0;
  const s = Math.abs(seconds);
  const text =
    s < 5 ? "just now" : s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min` : s < 86_400 ? `${Math.floor(s / 3600)} h` : `${Math.floor(s / 86_400)} d`;
  if (text === "just now") return text;
  return future ? `in ${text}` : `${text} ago`;
}

/** Exact UTC time for tooltips: 2026-11-28 15:41:36 UTC. */
export const exactTime = (when: Date) => `${when.toISOString().replace("T", " ").slice(0, 19)} UTC`;

export const prettyJson = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value, null, 2));

export const formatMs = (ms: number) => (ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`);
