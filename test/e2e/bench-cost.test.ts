/**
 * The benchmark's cost meter as the README runs it (`npm run bench -- --cost-only --quick`): the bundle
 * on workerd with the real local queue, each operation's D1 rows and queue operations counted by the
 * app. Its figures must agree with the counts the workers tests pin, and the idle sweep must read a
 * bounded number of rows whatever the table size.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

function runBench(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const chunks: string[] = [];
    const child = spawn("npm", ["run", "bench", "--", "--cost-only", "--quick"], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, WRANGLER_SEND_METRICS: "false" } });
    child.stdout.on("data", (d: Buffer) => chunks.push(d.toString()));
    child.stderr.on("data", (d: Buffer) => chunks.push(d.toString()));
    child.on("exit", (code) => resolve({ code, output: chunks.join("") }));
  });
}

describe("npm run bench -- --cost-only", () => {
  it("prints each operation's cost per job, counted on workerd with the real queue, and the price of a million lifecycles", async () => {
    const { code, output } = await runBench();
    expect(code, output.slice(-3000)).toBe(0);
    expect(output).toMatch(/price of 1 000 000 lifecycles at list prices \(\d{4}-\d{2}-\d{2}\): \$[\d.]+ .*QStash: \$10/);
    const cost = JSON.parse(readFileSync("bench/results/cost.json", "utf8")).cost;
    const ops = cost.perJob;
    // The main path, as test/cost.test.ts pins it: one round trip per create and per run call.
    expect(ops.create).toMatchObject({ d1RoundTrips: 1, rowsWritten: 4, queueOperations: 0 });
    // (A run call leaves the job's row alone: the job shows its run in progress through the run.)
    expect(ops.run).toMatchObject({ d1RoundTrips: 1, rowsWritten: 3, queueOperations: 1 });
    // Completion and delivery: batched, so under 2 round trips per job; the message is read and deleted.
    expect(ops.completeAndDeliver.d1RoundTrips).toBeLessThan(2);
    // (One of them the finished run's entry in runs_finished_idx, which retention walks.)
    // No sequence row per insert (db/ids.ts), no index entry for a first attempt in flight: 9 however
    // the consumer batches them.
    expect(ops.completeAndDeliver.rowsWritten).toBeGreaterThanOrEqual(9);
    expect(ops.completeAndDeliver.rowsWritten).toBeLessThanOrEqual(9.5);
    expect(ops.completeAndDeliver.queueOperations).toBe(2);
    // A retry costs writes of its own (a log row, the delivery's state) and a queue operation or two.
    expect(ops.retry.rowsWritten).toBeGreaterThan(0);
    // The sweep with nothing to do reads an index probe's worth of rows, at 1 000 or 20 000 rows alike.
    expect(ops.idleSweep.rowsWritten).toBe(0);
    // (Plus the walk of completions, about 2 rows a run: it stays a lease and the grace, 80 s, behind the
    // clock, so the bench's own runs of the phases before, and the large tables' seeded runs, which
    // finish one a second up to the moment they are made, cross its window while the large tables are
    // measured. How many cross between the warm-up pass and the measured one is timing: 17 to 395 rows
    // read were seen. A sweep that read the tables would read their 20 000 rows.)
    expect(ops.idleSweep.rowsRead).toBeLessThan(20);
    expect(ops.idleSweepLarge.rowsRead).toBeLessThan(1_000);
    expect(cost.lifecyclePricePerMillion.total).toBeGreaterThan(0);
  });
});
