/**
 * docs/api.md, the API page people read, names every route path of the OpenAPI document the Worker
 * serves at /openapi.json, so a new route cannot ship undocumented. (The README and docs/ links are
 * checked in Node: test/e2e/docs-links.test.ts.)
 */
import { describe, expect, it } from "vitest";
import apiPage from "../docs/api.md?raw";
import { call } from "./support/helpers";

/** `/api/jobs/{id}/run` as the page may write it: so, or `/api/jobs/:id/run`. */
const forms = (path: string) => [path, path.replace(/\{(\w+)\}/g, ":$1")];

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Whether `text` names `path` itself: a longer path (`/api/jobs/:id` for `/api/jobs`) does not count. */
export const namesPath = (text: string, path: string) =>
  forms(path).some((form) => new RegExp(`(?<![\\w/{}:.-])${escape(form)}(?![\\w/{}:-])`).test(text));

describe("docs/api.md", () => {
  it("names every route path of the OpenAPI document", async () => {
    const res = await call("GET", "/openapi.json", undefined, { authorization: null, cookie: null });
    expect(res.status).toBe(200);
    const paths = Object.keys((res.body as { paths: Record<string, unknown> }).paths);
    expect(paths.length).toBeGreaterThan(15);
    expect(paths.filter((path) => !namesPath(apiPage, path))).toEqual([]);
  });

  it("counts a path only where it is written whole", () => {
    expect(namesPath("| GET | `/api/jobs/:id/runs?limit` |", "/api/jobs/{id}/runs")).toBe(true);
    expect(namesPath("`POST /api/runs/{runId}/redeliver`", "/api/runs/{runId}/redeliver")).toBe(true);
    expect(namesPath("`/api/jobs/:id` and `/api/jobs/:id/run`", "/api/jobs")).toBe(false);
    expect(namesPath("`/health/ready`", "/health")).toBe(false);
  });
});
