/**
 * Stands in for the schema libraries hono-openapi can use but this project does not (it uses zod 4's
 * own JSON Schema): they are imported only on a path for another library, so the bundle holds no
 * import it cannot resolve (wrangler.toml [alias]).
 */
export {};
