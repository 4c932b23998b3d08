#!/usr/bin/env node
// `npm run db:migrate:local [-- --persist-to DIR]` and `npm run db:migrate:remote -- --env NAME`: apply the
// migrations a database lacks, to every shard (SHARDS=N locally, as npm start; an environment's DB,
// DB_1, ... remotely), one after the other.
import { parseTarget, shardsOf, wrangler } from "./d1.mjs";

const { target } = parseTarget(process.argv.slice(2), {});
for (const shard of await shardsOf(target)) {
  console.log(`[migrate] ${shard.binding}`);
  wrangler(shard, "migrations apply", []);
}
