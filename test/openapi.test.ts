/**
 * The OpenAPI document at /openapi.json: it covers every route the API serves, and what the routes
 * really answer conforms to what it documents (checked with a JSON Schema 2020-12 validator that runs
 * in workerd). Its validity against the OpenAPI 3.1 schema is checked in test/browser/openapi-document.test.ts.
 */
import { Validator, type Schema } from "@cfworker/json-schema";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { call, createJob, received, uniqueWord, waitForJob } from "./support/helpers";

type Doc = { paths: Record<string, Record<string, any>>; components: { schemas: Record<string, unknown> }; webhooks: Record<string, any> };

let doc: Doc;
beforeAll(async () => {
  const res = await call("GET", "/openapi.json", undefined, { authorization: null, cookie: null });
  expect(res.status).toBe(200);
  doc = res.body;
});

const METHODS = ["get", "post", "put", "patch", "delete"];

/** `/api/jobs/:id/run` -> `/api/jobs/{id}/run` */
const openApiPath = (path: string) => path.replace(/:(\w+)/g, "{$1}");

/** The operations the app itself serves under /api and /health, from its router. */
function servedOperations(): string[] {
  const served = new Set<string>();
  for (const route of createApp().routes) {
    const method = route.method.toLowerCase();
    if (!METHODS.includes(method) || !/^\/(api|health)(\/|$)/.test(route.path) || route.path.includes("*")) continue;
    served.add(`${method} ${openApiPath(route.path.replace(/\/$/, "") || "/")}`);
  }
  return [...served].sort();
}

const documentedOperations = () =>
  Object.entries(doc.paths)
    .flatMap(([path, item]) => Object.keys(item).filter((m) => METHODS.includes(m)).map((m) => `${m} ${path.replace(/\/$/, "")}`))
    .sort();

describe("GET /openapi.json", () => {
  it("documents exactly the /api and /health routes the app serves", () => {
    const served = servedOperations();
    expect(served.length).toBeGreaterThan(15);
    expect(documentedOperations()).toEqual(served);
  });

  it("names the x-d1-bookmark header on every operation and every answer, with the pattern the app checks", async () => {
    const operations = Object.values(doc.paths).flatMap((item: any) => Object.values(item)) as any[];
    expect(operations.length).toBeGreaterThan(15);
    for (const op of operations) {
      expect(op.parameters).toContainEqual({ $ref: "#/components/parameters/D1Bookmark" });
      for (const response of Object.values(op.responses) as any[]) expect(response.headers["x-d1-bookmark"]).toEqual({ $ref: "#/components/headers/D1Bookmark" });
    }
    const parameter = (doc as any).components.parameters.D1Bookmark;
    expect(parameter).toMatchObject({ in: "header", name: "x-d1-bookmark", required: false });
    // A bookmark the app gave matches the documented pattern; one it refuses does not.
    const given = (await call("GET", "/api/jobs?limit=1")).headers.get("x-d1-bookmark")!;
    expect(given).toMatch(new RegExp(parameter.schema.pattern));
    expect("yesterday").not.toMatch(new RegExp(parameter.schema.pattern));
  });

  it("names each operation's parameters and body from the validators, with bearer security on /api", () => {
    const create = doc.paths["/api/jobs"]!.post;
    const body = create.requestBody.content["application/json"].schema;
    expect(body.properties).toHaveProperty("taskName");
    expect(body.properties).toHaveProperty("schedule");
    expect(body.required).toContain("taskName");
    expect(create.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ in: "header", name: "idempotency-key" })]));
    const list = doc.paths["/api/jobs"]!.get;
    expect(list.parameters.map((p: any) => p.name)).toEqual(expect.arrayContaining(["limit", "page", "search", "status", "priority"]));
    const status = list.parameters.find((p: any) => p.name === "status");
    expect(JSON.stringify(status.schema)).toContain("IN_PROGRESS");
    expect(doc.paths["/api/runs/{runId}"]!.get.parameters).toEqual([expect.objectContaining({ in: "path", name: "runId", required: true }), { $ref: "#/components/parameters/D1Bookmark" }]);
    expect((doc as any).security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths["/health"]!.get.security).toEqual([]);
    for (const operation of documentedOperations()) {
      const [method, path] = operation.split(" ") as [string, string];
      const op = (doc.paths[path] ?? doc.paths[`${path}/`])![method];
      expect(op.summary, operation).toBeTruthy();
      if (path.startsWith("/api")) expect(Object.keys(op.responses), operation).toEqual(expect.arrayContaining(["401", "429"]));
    }
  });

  it("documents every numeric parameter as an integer with its range and default, as a generated client sends it", () => {
    const numeric = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => METHODS.includes(method))
        .flatMap(([method, op]) => (op.parameters ?? []).filter((p: any) => ["limit", "page", "runId"].includes(p.name)).map((p: any) => [`${method} ${path} ${p.name}`, p.schema])),
    );
    // limit and page on the four lists, runId on its two routes.
    expect(numeric).toHaveLength(10);
    for (const [where, schema] of numeric) {
      const expected = where.endsWith("limit")
        ? { type: "integer", minimum: 1, maximum: 100, default: 10 }
        : where.endsWith("page")
          ? { type: "integer", minimum: 1, maximum: 1_000_000, default: 1 }
          : { type: "integer", minimum: 1, maximum: 999_999_999_999_999 };
      expect(schema, where).toEqual(expected);
    }
    // Whatever its name: no parameter is a number typed as text (a digit pattern), and every integer has its range.
    const parameters = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => METHODS.includes(method))
        .flatMap(([method, op]) => (op.parameters ?? []).map((p: any) => [`${method} ${path} ${p.name}`, p.schema ?? {}] as const)),
    );
    expect(parameters.length).toBeGreaterThan(numeric.length);
    for (const [where, schema] of parameters) {
      expect(schema.type === "string" && /\\d|\[0-9\]/.test(schema.pattern ?? ""), `${where} is a number typed as text`).toBe(false);
      if (schema.type === "integer") expect([schema.minimum, schema.maximum].every((n) => typeof n === "number"), where).toBe(true);
    }
  });

  it("is public and the same document on every call", async () => {
    const again = await call("GET", "/openapi.json", undefined, { authorization: null, cookie: null });
    expect(again.headers.get("content-type")).toMatch(/^application\/json/);
    expect(again.body).toEqual(doc);
  });
});

describe("responses conform to the documented schemas", () => {
  const exercised = new Set<string>();

  /** Calls `method path` and checks the answer against the document's schema for its status. */
  async function conforms(method: string, template: string, path: string, body?: unknown, headers: Record<string, string | null> = {}) {
    const res = await call(method, path, body, headers);
    const op = doc.paths[template]?.[method.toLowerCase()];
    expect(op, `${method} ${template} is documented`).toBeDefined();
    const documented = op.responses[String(res.status)];
    expect(documented, `${method} ${path} answered ${res.status}, which is not documented: ${JSON.stringify(res.body)}`).toBeDefined();
    const type = (res.headers.get("content-type") ?? "").split(";")[0]!;
    expect(Object.keys(documented.content), `${method} ${path} answered ${type}`).toContain(type);
    exercised.add(`${method.toLowerCase()} ${template}`);
    if (type !== "application/json") return res;
    const schema = documented.content["application/json"].schema;
    const result = new Validator({ ...schema, components: doc.components } as Schema, "2020-12", false).validate(res.body);
    expect(result.errors.slice(0, 5), `${method} ${path} ${res.status}`).toEqual([]);
    return res;
  }

  it("on the happy path and the documented errors of every route", async () => {
    const tag = uniqueWord("oas");
    const created = await conforms("POST", "/api/jobs", "/api/jobs", { taskName: `${tag} send`, payload: { to: "a@example.com" }, priority: "HIGH" }, { "idempotency-key": tag });
    expect(created.status).toBe(201);
    const again = await conforms("POST", "/api/jobs", "/api/jobs", { taskName: `${tag} send`, payload: { to: "a@example.com" }, priority: "HIGH" }, { "idempotency-key": tag });
    expect(again.status).toBe(200);
    expect((await conforms("POST", "/api/jobs", "/api/jobs", { payload: 1 })).status).toBe(400);
    expect((await conforms("POST", "/api/jobs", "/api/jobs", "{}", { "content-type": "text/plain" })).status).toBe(415);
    expect((await conforms("POST", "/api/jobs", "/api/jobs", {}, { authorization: null, cookie: null })).status).toBe(401);
    const id = created.body.data.id;
    // The check can fail: a job without its fields, or with one it does not document, does not conform.
    const createdSchema = { ...doc.paths["/api/jobs"]!.post.responses["201"].content["application/json"].schema, components: doc.components };
    const validator = new Validator(createdSchema, "2020-12", false);
    expect(validator.validate({ success: true, data: { id } }).valid).toBe(false);
    expect(validator.validate({ ...created.body, data: { ...created.body.data, secret: 1 } }).valid).toBe(false);
    expect(validator.validate({ ...created.body, data: { ...created.body.data, createdAt: 5 } }).valid).toBe(false);

    await conforms("GET", "/api/jobs", `/api/jobs?search=${tag}&limit=5`);
    expect((await conforms("GET", "/api/jobs", "/api/jobs?limit=0")).status).toBe(400);
    await conforms("GET", "/api/jobs/{id}", `/api/jobs/${id}`);
    expect((await conforms("GET", "/api/jobs/{id}", "/api/jobs/nope")).status).toBe(404);
    await conforms("PATCH", "/api/jobs/{id}", `/api/jobs/${id}`, { priority: "LOW" });
    expect((await conforms("POST", "/api/jobs/{id}/redeliver", `/api/jobs/${id}/redeliver`)).status).toBe(409);

    expect((await conforms("POST", "/api/jobs/{id}/run", `/api/jobs/${id}/run`)).status).toBe(202);
    expect((await conforms("POST", "/api/jobs/{id}/run", `/api/jobs/${id}/run`)).status).toBe(409);
    const done = await waitForJob(id, (job) => job.latestRun?.delivery?.state === "DELIVERED");
    await conforms("GET", "/api/jobs/{id}", `/api/jobs/${id}`);
    await conforms("GET", "/api/jobs/{id}/runs", `/api/jobs/${id}/runs`);
    await conforms("GET", "/api/runs/{runId}", `/api/runs/${done.latestRun.id}`);
    expect((await conforms("GET", "/api/runs/{runId}", "/api/runs/0")).status).toBe(400);
    await conforms("GET", "/api/jobs/{id}/logs", `/api/jobs/${id}/logs`);
    await conforms("GET", "/api/logs", `/api/logs?jobId=${id}`);
    expect((await conforms("POST", "/api/runs/{runId}/redeliver", `/api/runs/${done.latestRun.id}/redeliver`)).status).toBe(202);
    await waitForJob(id, (job) => job.latestRun?.delivery?.state === "DELIVERED");
    await conforms("POST", "/api/jobs/{id}/redeliver", `/api/jobs/${id}/redeliver`);

    const scheduled = await createJob({ schedule: { cron: "0 9 * * 1-5", timezone: "Europe/London" } });
    await conforms("GET", "/api/jobs/{id}", `/api/jobs/${scheduled.id}`);
    await conforms("POST", "/api/jobs/{id}/pause", `/api/jobs/${scheduled.id}/pause`);
    expect((await conforms("POST", "/api/jobs/{id}/pause", `/api/jobs/${scheduled.id}/pause`)).status).toBe(409);
    await conforms("POST", "/api/jobs/{id}/resume", `/api/jobs/${scheduled.id}/resume`);
    await conforms("POST", "/api/jobs/{id}/cancel", `/api/jobs/${scheduled.id}/cancel`);

    const other = await createJob();
    expect((await conforms("POST", "/api/jobs/run", "/api/jobs/run", { ids: [other.id, "missing"] })).status).toBe(202);
    expect((await conforms("POST", "/api/jobs/bulk", "/api/jobs/bulk", { action: "pause", ids: [other.id] })).status).toBe(200);
    expect((await conforms("POST", "/api/jobs/bulk", "/api/jobs/bulk", { action: "nope", ids: [] })).status).toBe(400);
    await conforms("DELETE", "/api/jobs/{id}", `/api/jobs/${scheduled.id}`);
    expect((await conforms("GET", "/api/jobs/export", `/api/jobs/export?format=csv&search=${tag}`)).body).toContain(id);
    expect(JSON.stringify((await conforms("GET", "/api/jobs/export", `/api/jobs/export?format=ndjson&search=${tag}`)).body)).toContain(id);
    expect((await conforms("GET", "/api/jobs/export", "/api/jobs/export?format=xml")).status).toBe(400);
    const stats = await conforms("GET", "/api/stats", "/api/stats");
    expect(stats.body.data.runs.totals.completed).toBeGreaterThan(0);
    await conforms("GET", "/health", "/health", undefined, { authorization: null, cookie: null });
    await conforms("GET", "/health/ready", "/health/ready", undefined, { authorization: null, cookie: null });

    // A route added to the document must be added here too.
    expect([...exercised].sort()).toEqual(documentedOperations());
  });

  it("and a webhook a receiver got conforms to the documented webhook body", async () => {
    const job = await createJob({ payload: { n: 1 } });
    await call("POST", `/api/jobs/${job.id}/run`);
    await waitForJob(job.id, (j) => j.latestRun?.delivery?.state === "DELIVERED");
    const [hook] = await received(job.id);
    const schema = doc.webhooks.runFinished.post.requestBody.content["application/json"].schema;
    const result = new Validator({ ...schema, components: doc.components }, "2020-12", false).validate(JSON.parse(hook!.rawBody));
    expect(result.errors).toEqual([]);
    expect(doc.webhooks.runFinished.post.parameters.map((p: any) => p.name).sort()).toEqual(Object.keys(hook!.headers).filter((h) => h.startsWith("webhook-")).sort());
  });
});

describe("GET /docs", () => {
  it("serves the reference page with its script and styles from this origin, under the strict CSP", async () => {
    const page = await call("GET", "/docs", undefined, { authorization: null, cookie: null });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<script src="/vendor/swagger-ui/swagger-ui-bundle.js"></script>');
    expect(page.body).toContain('<script src="/docs.js"></script>');
    expect(page.body).not.toMatch(/<script>(?!<)/);
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
  });
});
