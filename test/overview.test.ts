/** The dashboard's overview page: the figures of /api/stats as cards and SVG charts, refreshing in place. */
import { describe, expect, it } from "vitest";
import { call, createJob, waitForJob } from "./support/helpers";

const htmxFragment = { "HX-Request": "true", "HX-Target": "overview-live" };

describe("GET /overview", () => {
  it("shows the same figures as /api/stats, with charts drawn as SVG and a table for screen readers", async () => {
    const job = await createJob();
    await call("POST", `/api/jobs/${job.id}/run`);
    await waitForJob(job.id, (j) => j.latestRun?.delivery?.state === "DELIVERED");
    const page = await call("GET", "/overview");
    const stats = (await call("GET", "/api/stats")).body.data;
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/^<!doctype html>/);
    expect(page.body).toContain('<a href="/overview" aria-current="page">Overview</a>');
    // The jobs card holds the API's total; the hourly chart and its table have 24 hours.
    expect(page.body).toMatch(new RegExp(`<p class="stat-label">Jobs</p><p class="stat-value">${stats.jobs.total.toLocaleString("en-US")}</p>`));
    expect(page.body.match(/<svg class="chart"/g)).toHaveLength(3);
    expect(page.body.match(/<th scope="row">\d\d:00<\/th>/g)).toHaveLength(24);
    expect(page.body).toContain(`delivered ${stats.deliveries.byState.DELIVERED}`);
    expect(stats.deliveries.byState.DELIVERED).toBeGreaterThan(0);
    // No inline style anywhere (the CSP forbids it): colours come from classes.
    expect(page.body).not.toMatch(/\sstyle=/);
  });

  it("answers htmx's refresh with the live part only, which asks to be refreshed again", async () => {
    const res = await call("GET", "/overview", undefined, htmxFragment);
    expect(res.status).toBe(200);
    expect(res.body).toMatch(/^<section id="overview-live" aria-label="Figures" data-poll="\/overview" data-poll-every="15000">/);
    expect(res.body).not.toContain("<html");
  });

  it("asks a signed-out browser to sign in", async () => {
    const res = await call("GET", "/overview", undefined, { authorization: null, cookie: null, accept: "text/html" });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/login?next=%2Foverview");
  });
});
