import { describe, expect, it } from "vitest";
import { backoffSeconds, MAX_QUEUE_DELAY_SECONDS } from "../src/queue/backoff";

describe("backoffSeconds", () => {
  it("doubles from the base delay with each failed attempt", () => {
    expect([1, 2, 3, 4, 5].map((attempt) => backoffSeconds(attempt, 5))).toEqual([5, 10, 20, 40, 80]);
  });

  it("never exceeds what a queue message accepts", () => {
    expect(backoffSeconds(30, 5)).toBe(MAX_QUEUE_DELAY_SECONDS);
  });

  it("is zero with a zero base (immediate retries)", () => {
    expect(backoffSeconds(3, 0)).toBe(0);
  });
});
