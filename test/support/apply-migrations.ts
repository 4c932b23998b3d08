import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { shardBindings } from "../../src/db/shards";

// The real drizzle-kit migrations, applied to each test run's local D1: every shard's (DB, DB_1, ...).
for (const db of shardBindings(env)) await applyD1Migrations(db, env.TEST_MIGRATIONS);
