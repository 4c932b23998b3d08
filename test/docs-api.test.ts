/**
 * docs/api.md, the API page people read, names every route (method and path) of the OpenAPI document
 * the Worker serves at /openapi.json in its route table, so a new route cannot ship undocumented. (The README and docs/ links are
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

const METHODS = ["get", "post", "put", "patch", "delete"];

/** Whether a row of the page's route table (`| METHOD | paths | ... |`) gives `method` for `path`. */
export const documentsRoute = (page: string, method: string, path: string) =>
  page.split("\n").some((line) => {
    const [, methods, paths] = line.split("|");
    return methods !== undefined && paths !== undefined && methods.trim().split(/,\s*/).includes(method.toUpperCase()) && namesPath(paths, path);
  });

describe("docs/api.md", () => {
  it("names every route of the OpenAPI document, with its method, in the route table", async () => {
    const res = await call("GET", "/openapi.json", undefined, { authorization: null, cookie: null });
    expect(res.status).toBe(200);
    const paths = (res.body as { paths: Record<string, Record<string, unknown>> }).paths;
    const routes = Object.entries(paths).flatMap(([path, item]) => Object.keys(item).filter((key) => METHODS.includes(key)).map((method) => `${method.toUpperCase()} ${path}`));
    expect(routes.length).toBeGreaterThan(20);
    expect(routes.filter((route) => !documentsRoute(apiPage, ...(route.split(" ") as [string, string])))).toEqual([]);
  });

  it("counts a route only where its row gives that method for that path", () => {
    const table = "| GET | `/api/jobs/:id` | one job |\n| POST | `/api/jobs/:id/pause`, `/api/jobs/:id/resume` | stop |";
    expect(documentsRoute(table, "get", "/api/jobs/{id}")).toBe(true);
    expect(documentsRoute(table, "post", "/api/jobs/{id}/resume")).toBe(true);
    expect(documentsRoute(table, "put", "/api/jobs/{id}")).toBe(false);
    expect(documentsRoute(table, "get", "/api/jobs/{id}/pause")).toBe(false);
  });

  it("counts a path only where it is written whole", () => {
    expect(namesPath("| GET | `/api/jobs/:id/runs?limit` |", "/api/jobs/{id}/runs")).toBe(true);
    expect(namesPath("`POST /api/runs/{runId}/redeliver`", "/api/runs/{runId}/redeliver")).toBe(true);
    expect(namesPath("`/api/jobs/:id` and `/api/jobs/:id/run`", "/api/jobs")).toBe(false);
    expect(namesPath("`/health/ready`", "/health")).toBe(false);
  });
});
