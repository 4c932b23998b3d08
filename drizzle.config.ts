import { defineConfig } from "drizzle-kit";

// Migrations are generated here and applied by wrangler (locally and to the remote D1).
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  out: "./migrations",
});
