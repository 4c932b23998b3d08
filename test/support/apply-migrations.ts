import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

// The real drizzle-kit migrations, applied to each test run's local D1.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
