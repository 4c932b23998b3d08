import type { D1Migration } from "cloudflare:test";
import type { Env as AppBindings } from "../src/env";

declare global {
  namespace Cloudflare {
    interface GlobalProps {
      mainModule: typeof import("../src/index");
    }
    interface Env extends AppBindings {
      TEST_MIGRATIONS: D1Migration[];
      RECEIVER_URL: string;
      DEAD_URL: string;
      TEST_QUEUE: Queue<unknown>;
      MIGRATION_DB: D1Database;
      PREVIOUS_DB: D1Database;
      VERSION_0009_DB: D1Database;
      PLANNED_DB: D1Database;
      JOB_ROW_DB: D1Database;
      NO_SCHEMA_DB: D1Database;
      /** The shards project only: three empty databases, for a deployment grown from one to three. */
      GROW_DB?: D1Database;
      GROW_DB_1?: D1Database;
      GROW_DB_2?: D1Database;
    }
  }
}
