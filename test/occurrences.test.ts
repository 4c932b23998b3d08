/**
 * When recurring schedules fire, with a controlled clock: both DST transitions of two zones (the gap
 * runs at the first valid instant after it; a repeated wall-clock time runs once), start, end and limit.
 */
import { describe, expect, it } from "vitest";
import type { Schedule } from "../src/db/schema";
import { localToIso } from "../src/jobs/form";
import { latestOccurrence, nextOccurrence, upcomingOccurrences } from "../src/schedules/occurrences";

const schedule = (cron: string, timezone: string, extra: Partial<Schedule> = {}): Schedule => ({ cron, timezone, missed: "skip", overlap: "skip", ...extra });
const iso = (d: Date | null) => d?.toISOString() ?? null;
const next = (s: Schedule, after: string, count = 4) => upcomingOccurrences(s, new Date(after), count, 0).map(iso);

describe("daylight saving time", () => {
  it("Europe/London, spring forward (29 Mar 2026, 01:00 → 02:00): 01:30 runs at 02:00 BST, once", () => {
    expect(next(schedule("30 1 * * *", "Europe/London"), "2026-03-28T12:00:00Z", 3)).toEqual([
      "2026-03-29T01:00:00.000Z", // 02:00 BST: the first valid instant after the missing 01:30
      "2026-03-30T00:30:00.000Z", // 01:30 BST
      "2026-03-31T00:30:00.000Z",
    ]);
  });

  it("Europe/London, fall back (25 Oct 2026, 02:00 → 01:00): 01:30 happens twice and runs once", () => {
    expect(next(schedule("30 1 * * *", "Europe/London"), "2026-10-24T12:00:00Z", 3)).toEqual([
      "2026-10-25T00:30:00.000Z", // 01:30 BST, the first pass
      "2026-10-26T01:30:00.000Z", // 01:30 GMT the next day
      "2026-10-27T01:30:00.000Z",
    ]);
    // Every 30 minutes through the repeated hour: each wall-clock time once.
    expect(next(schedule("*/30 * * * *", "Europe/London"), "2026-10-24T23:45:00Z", 5)).toEqual([
      "2026-10-25T00:00:00.000Z", // 01:00 BST
      "2026-10-25T00:30:00.000Z", // 01:30 BST
      "2026-10-25T02:00:00.000Z", // 02:00 GMT (01:00 and 01:30 GMT repeat wall times already run)
      "2026-10-25T02:30:00.000Z",
      "2026-10-25T03:00:00.000Z",
    ]);
  });

  it("America/New_York, spring forward (8 Mar 2026, 02:00 → 03:00): 02:30 runs at 03:00 EDT, once", () => {
    expect(next(schedule("30 2 * * *", "America/New_York"), "2026-03-07T12:00:00Z", 2)).toEqual(["2026-03-08T07:00:00.000Z", "2026-03-09T06:30:00.000Z"]);
  });

  it("America/New_York, fall back (1 Nov 2026, 02:00 → 01:00): 01:30 runs once", () => {
    expect(next(schedule("30 1 * * *", "America/New_York"), "2026-10-31T12:00:00Z", 2)).toEqual(["2026-11-01T05:30:00.000Z", "2026-11-02T06:30:00.000Z"]);
  });

  it("crons of lists, ranges and steps also run a time the gap skips at the jump, once (New York and London)", () => {
    // 02:30 and 14:30 New York: on 8 Mar 2026 02:30 does not exist; it runs at 03:00 EDT (07:00 UTC).
    expect(next(schedule("30 2,14 * * *", "America/New_York"), "2026-03-07T20:00:00Z", 3)).toEqual([
      "2026-03-08T07:00:00.000Z",
      "2026-03-08T18:30:00.000Z",
      "2026-03-09T06:30:00.000Z",
    ]);
    // 02:00 and 02:30 both fall in the gap: one run at the jump.
    expect(next(schedule("0,30 2 * * *", "America/New_York"), "2026-03-07T12:00:00Z", 3)).toEqual([
      "2026-03-08T07:00:00.000Z",
      "2026-03-09T06:00:00.000Z",
      "2026-03-09T06:30:00.000Z",
    ]);
    expect(next(schedule("30 1-2 * * *", "America/New_York"), "2026-03-08T06:00:00Z", 2)).toEqual(["2026-03-08T06:30:00.000Z", "2026-03-08T07:00:00.000Z"]);
    expect(next(schedule("30 1,13 * * *", "Europe/London"), "2026-03-28T14:00:00Z", 2)).toEqual(["2026-03-29T01:00:00.000Z", "2026-03-29T12:30:00.000Z"]);
    // Every 15 minutes through the gap: 01:45 GMT, then 03:00 BST (the jump, once), 03:15 ...
    expect(next(schedule("*/15 * * * *", "Europe/London"), "2026-03-29T00:30:00Z", 4)).toEqual([
      "2026-03-29T00:45:00.000Z",
      "2026-03-29T01:00:00.000Z",
      "2026-03-29T01:15:00.000Z",
      "2026-03-29T01:30:00.000Z",
    ]);
    // A cron that matches nothing in the gap gains nothing.
    expect(next(schedule("30 4,16 * * *", "America/New_York"), "2026-03-07T22:00:00Z", 2)).toEqual(["2026-03-08T08:30:00.000Z", "2026-03-08T20:30:00.000Z"]);
  });

  it("Antarctica/Troll falls back two hours (03:00 → 01:00): each repeated wall-clock hour runs once", () => {
    expect(next(schedule("0 * * * *", "Antarctica/Troll"), "2026-10-24T22:30:00Z", 4)).toEqual([
      "2026-10-24T23:00:00.000Z", // 01:00 +02
      "2026-10-25T00:00:00.000Z", // 02:00 +02
      "2026-10-25T03:00:00.000Z", // 03:00 +00 (01:00 and 02:00 +00 repeat wall times already run)
      "2026-10-25T04:00:00.000Z",
    ]);
    // Every minute: the two repeated hours are 120 matches skipped in a row, and the schedule carries on.
    expect(next(schedule("* * * * *", "Antarctica/Troll"), "2026-10-25T00:58:30Z", 3)).toEqual(["2026-10-25T00:59:00.000Z", "2026-10-25T03:00:00.000Z", "2026-10-25T03:01:00.000Z"]);
  });

  it("weekdays at 09:00 London keep 09:00 local across the change (08:00 UTC in summer, 09:00 in winter)", () => {
    expect(next(schedule("0 9 * * 1-5", "Europe/London"), "2026-10-23T00:00:00Z", 2)).toEqual(["2026-10-23T08:00:00.000Z", "2026-10-26T09:00:00.000Z"]);
  });
});

describe("bounds", () => {
  it("starts at startAt, stops after endAt, and counts its limit", () => {
    const bounded = schedule("0 * * * *", "UTC", { startAt: "2026-12-01T10:00:00Z", endAt: "2026-12-01T12:00:00Z" });
    expect(next(bounded, "2026-11-28T00:00:00Z", 10)).toEqual(["2026-12-01T10:00:00.000Z", "2026-12-01T11:00:00.000Z", "2026-12-01T12:00:00.000Z"]);
    expect(upcomingOccurrences(schedule("0 * * * *", "UTC", { limit: 3 }), new Date("2026-12-01T00:00:00Z"), 5, 1).map(iso)).toEqual(["2026-12-01T01:00:00.000Z", "2026-12-01T02:00:00.000Z"]);
    expect(nextOccurrence(schedule("0 0 31 2 *", "UTC"), new Date())).toBeNull();
  });
});

describe("the latest occurrence missed (latestOccurrence, for missed: once)", () => {
  it("is the last occurrence at or before now, within the schedule's end, and never before the run it replaces", () => {
    const weekdays = schedule("0 9 * * 1-5", "Europe/London");
    const since = new Date("2026-11-30T09:00:00Z"); // Monday's occurrence, the run that was missed
    expect(iso(latestOccurrence(weekdays, new Date("2026-12-06T12:00:00Z"), since))).toBe("2026-12-04T09:00:00.000Z"); // Friday's
    expect(iso(latestOccurrence(weekdays, new Date("2026-12-02T09:00:00Z"), since))).toBe("2026-12-02T09:00:00.000Z"); // at now exactly
    expect(iso(latestOccurrence({ ...weekdays, endAt: "2026-12-02T12:00:00Z" }, new Date("2026-12-06T12:00:00Z"), since))).toBe("2026-12-02T09:00:00.000Z");
    expect(iso(latestOccurrence(weekdays, new Date("2026-11-30T09:03:00Z"), since))).toBe("2026-11-30T09:00:00.000Z");
  });

  it("reads daylight saving time as the occurrences do: the jump of a gap, the first pass of a repeated time", () => {
    // New York, 8 Mar 2026: 02:15 does not exist; the occurrence is 03:00 EDT (07:00 UTC).
    expect(iso(latestOccurrence(schedule("15 * * * *", "America/New_York"), new Date("2026-03-08T07:10:00Z"), new Date("2026-03-08T05:15:00Z")))).toBe("2026-03-08T07:00:00.000Z");
    // London, 25 Oct 2026: 01:30 happens twice; the occurrence is its first pass (00:30 UTC), never the second (01:30 UTC).
    expect(iso(latestOccurrence(schedule("*/30 * * * *", "Europe/London"), new Date("2026-10-25T01:40:00Z"), new Date("2026-10-24T23:00:00Z")))).toBe("2026-10-25T00:30:00.000Z");
    // Chatham, 5 Apr 2026 (03:45 → 02:45): croner's match hours back is a repeated time's second pass; the latest is 03:30's first pass.
    expect(iso(latestOccurrence(schedule("30 0-3 * * *", "Pacific/Chatham"), new Date("2026-04-04T18:54:00Z"), new Date("2026-04-04T10:45:00Z")))).toBe("2026-04-04T13:45:00.000Z");
    // Lord Howe, 4 Oct 2026: clocks jump half an hour at 02:00 (+10:30 → +11); 02:00 runs at the jump.
    const lordHowe = upcomingOccurrences(schedule("0 * * * *", "Australia/Lord_Howe"), new Date("2026-10-03T13:00:00Z"), 3, 0);
    expect(iso(latestOccurrence(schedule("0 * * * *", "Australia/Lord_Howe"), new Date(lordHowe[2]!.getTime() - 60_000), lordHowe[0]!))).toBe(iso(lordHowe[1]!));
  });
});

describe("the form's local times (localToIso)", () => {
  it.each([
    ["2026-12-01T09:00", "Europe/London", "2026-12-01T09:00:00.000Z"],
    ["2026-07-01T09:00", "Europe/London", "2026-07-01T08:00:00.000Z"],
    ["2026-03-29T01:30", "Europe/London", "2026-03-29T01:00:00.000Z"], // in the gap: 02:00 BST
    ["2026-10-25T01:30", "Europe/London", "2026-10-25T00:30:00.000Z"], // twice: the first pass (BST)
    ["2026-03-08T02:30", "America/New_York", "2026-03-08T07:00:00.000Z"], // in the gap: 03:00 EDT
    ["2026-11-01T01:30", "America/New_York", "2026-11-01T05:30:00.000Z"], // twice: the first pass (EDT)
    ["2026-10-04T02:15", "Australia/Lord_Howe", "2026-10-03T15:30:00.000Z"], // a 30-minute gap: 02:30
    ["not a time", "UTC", "not a time"],
  ])("%s in %s is %s, as schedules read it", (local, timezone, expected) => {
    expect(localToIso(local, timezone)).toBe(expected);
  });
});
