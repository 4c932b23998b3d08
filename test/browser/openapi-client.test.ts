/**
 * A client generated from /openapi.json (openapi-typescript, as a user of the API would run it) types
 * what the API takes: a program that pages with numbers compiles, one that sends them as text does
 * not. Compiled in memory with the TypeScript compiler, against the document the started app serves.
 */
import openapiTS, { astToString } from "openapi-typescript";
import ts from "typescript";
import { beforeAll, describe, expect, inject, it } from "vitest";

let generated: string;

/** A program that pages through every list and reads a run, with the query and path values given. */
const program = (limit: string, page: string, runId: string) => `
import type { paths } from "./api";

type Query<P extends keyof paths> = paths[P] extends { get: { parameters: { query?: infer Q } } } ? NonNullable<Q> : never;
declare function list<P extends keyof paths>(path: P, query: Query<P>): void;

list("/api/jobs", { limit: ${limit}, page: ${page}, status: "PENDING" });
list("/api/logs", { limit: ${limit}, page: ${page} });
list("/api/jobs/{id}/runs", { limit: ${limit}, page: ${page} });
list("/api/jobs/{id}/logs", { limit: ${limit}, page: ${page} });
const run: paths["/api/runs/{runId}"]["get"]["parameters"]["path"] = { runId: ${runId} };
export { run };
`;

/** Type errors of `main` compiled against the generated types, as "line: message". */
function typeErrors(main: string): string[] {
  const files: Record<string, string> = { "/client/api.ts": generated, "/client/main.ts": main };
  const options: ts.CompilerOptions = { strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, lib: ["lib.es2022.d.ts"], types: [] };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language) => (name in files ? ts.createSourceFile(name, files[name]!, language) : getSourceFile(name, language));
  host.fileExists = (name) => name in files || ts.sys.fileExists(name);
  host.readFile = (name) => files[name] ?? ts.sys.readFile(name);
  host.directoryExists = (name) => name === "/client" || ts.sys.directoryExists(name);
  const compiled = ts.createProgram(Object.keys(files), options, host);
  return ts.getPreEmitDiagnostics(compiled).map((d) => {
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
    return `${d.file?.fileName ?? ""}:${line}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
  });
}

// The app is started for this project only where Chromium is (test/node/app-server.ts).
describe("a client generated from the OpenAPI document", () => {
  beforeAll(async () => {
    const doc = await (await fetch(`${inject("appUrl")}/openapi.json`)).json();
    generated = astToString(await openapiTS(doc));
  });

  it("types limit and page as numbers and runId as a number", () => {
    expect(generated).toMatch(/limit\?: number;/);
    expect(generated).toMatch(/page\?: number;/);
    expect(generated).toMatch(/runId: number;/);
  });

  it("compiles a program that pages with numbers", () => {
    expect(typeErrors(program("10", "2", "42"))).toEqual([]);
  });

  it("refuses to compile one that sends them as text", () => {
    // The checker stops at the first bad property of each call: one error per call, on that call's line.
    const asText = typeErrors(program('"10"', "2", '"42"'));
    expect(asText.map((e) => e.split(": ")[0])).toEqual([7, 8, 9, 10, 11].map((line) => `/client/main.ts:${line}`));
    expect(asText.join("\n")).toMatch(/Type 'string' is not assignable to type 'number'/);
    const pageAsText = typeErrors(program("10", '"2"', "42"));
    expect(pageAsText).toHaveLength(4);
  });
});
