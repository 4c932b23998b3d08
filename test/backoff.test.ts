import { describe, expect, it } from "vitest";
import { crashBackoffSeconds, retryDelaySeconds } from "../src/background/backoff";
import { retryIn } from "../src/background/outcome";

const svix = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];

describe("retryDelaySeconds", () => {
  it("follows the schedule after each failed attempt", () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => retryDelaySeconds(n, svix, 0))).toEqual(svix);
  });

  it("repeats the last delay when attempts outnumber the schedule", () => {
    expect(retryDelaySeconds(12, svix, 0)).toBe(36_000);
  });

  it("moves each delay by at most the jitter fraction, both ways", () => {
    expect(retryDelaySeconds(2, svix, 0.1, () => 0)).toBe(270);
    expect(retryDelaySeconds(2, svix, 0.1, () => 1)).toBe(330);
    for (let i = 0; i < 200; i++) {
      const d = retryDelaySeconds(3, svix, 0.1);
      expect(d).toBeGreaterThanOrEqual(1620);
      expect(d).toBeLessThanOrEqual(1980);
    }
  });
});

describe("retryIn", () => {
  it("clamps a wait longer than a queue message accepts to 12 h (the message hops)", () => {
    expect(retryIn(36 * 3600)).toEqual({ kind: "retry", delaySeconds: 43_200 });
    expect(retryIn(1.2)).toEqual({ kind: "retry", delaySeconds: 2 });
  });
});

describe("crashBackoffSeconds", () => {
  it("doubles from 2 s and stops at 5 min", () => {
    expect([1, 2, 3, 4].map(crashBackoffSeconds)).toEqual([2, 4, 8, 16]);
    expect(crashBackoffSeconds(20)).toBe(300);
  });
});
