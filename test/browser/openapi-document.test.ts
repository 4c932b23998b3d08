/**
 * The generated OpenAPI document is valid OpenAPI 3.1: checked against the specification's own JSON
 * schema (@seriousme/openapi-schema-validator compiles it with Ajv, which needs Node), as the app started
 * with `npm start` serves it.
 */
import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, inject, it } from "vitest";

const openApiDocument = async () => (await (await fetch(`${inject("appUrl")}/openapi.json`)).json()) as Record<string, any>;

describe("the OpenAPI document", () => {
  it("validates against the OpenAPI 3.1 schema", async () => {
    const doc = (await openApiDocument()) as Record<string, any>;
    expect(doc.openapi).toMatch(/^3\.1\./);
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("fails the check when the document is broken (the check can fail)", async () => {
    const broken = structuredClone((await openApiDocument()) as Record<string, any>);
    broken.paths["/api/jobs"].get.responses = { 200: { content: {} } }; // a response without its description
    const result = await new Validator().validate(broken);
    expect(result.valid).toBe(false);
  });
});
