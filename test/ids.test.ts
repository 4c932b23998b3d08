import { describe, expect, it } from "vitest";
import { newJobId } from "../src/lib/ids";

describe("newJobId", () => {
  it("makes 24-character lowercase ids that start with a letter and sort by time", () => {
    const a = newJobId(1_700_000_000_000);
    const b = newJobId(1_700_000_000_001);
    expect(a).toMatch(/^j[0-9a-z]{23}$/);
    expect(a.slice(0, 10) < b.slice(0, 10)).toBe(true);
  });

  it("does not repeat in 50 000 ids made in the same millisecond", () => {
    const ids = new Set(Array.from({ length: 50_000 }, () => newJobId(1_700_000_000_000)));
    expect(ids.size).toBe(50_000);
  });
});
