#!/usr/bin/env node
// Proves src/db/schema.ts and the committed migrations agree: drizzle-kit, run against a copy of
// migrations/, must find nothing new to generate.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, readdirSync, rmSync } from "node:fs";

// drizzle-kit wants a path relative to the project; the folder is git-ignored.
const copy = ".migrations-check";
rmSync(copy, { recursive: true, force: true });
try {
  cpSync("migrations", copy, { recursive: true });
  const before = readdirSync(copy).sort();
  const snapshots = () => readdirSync(`${copy}/meta`).filter((f) => f.endsWith("_snapshot.json")).length;
  const snapshotsBefore = snapshots();
  execFileSync("npx", ["drizzle-kit", "generate", "--dialect", "sqlite", "--schema", "src/db/schema.ts", "--out", copy], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (!existsSync(`${copy}/meta/_journal.json`) || snapshots() < snapshotsBefore) {
    console.error("drizzle-kit did not read the migration copy; the check proves nothing");
    process.exit(1);
  }
  const added = readdirSync(copy).filter((f) => !before.includes(f));
  if (added.length > 0) {
    console.error(`Schema and migrations disagree: drizzle-kit would add ${added.join(", ")}. Run \`npm run db:generate\` and commit the result.`);
    process.exit(1);
  }
  console.log(`migrations: in sync with the schema (${before.filter((f) => f.endsWith(".sql")).length} files)`);
} finally {
  rmSync(copy, { recursive: true, force: true });
}
