/**
 * The runtime's ceilings: a minimal Hono worker answering a constant JSON, and the same worker when
 * each request also writes one row to local D1 (what any create costs at the least, in this mode).
 */
import { Hono } from "hono";

const app = new Hono<{ Bindings: { DB: D1Database } }>();

// The request body is read (as any POST handler does): workerd closes a keep-alive connection whose
// body was left unread, and the load driver would count a reset instead of a response.
app.post("/d1", async (c) => {
  const insert = c.env.DB.prepare("INSERT INTO rows (body) VALUES (?)").bind(await c.req.text());
  // One statement per request; the table is made by the first request that finds it missing.
  await insert.run().catch(async () => {
    await c.env.DB.exec("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
    await insert.run();
  });
  return c.json({ success: true, data: { ok: true } }, 201);
});

app.all("*", async (c) => {
  await c.req.arrayBuffer();
  return c.json({ success: true, data: { ok: true } });
});

export default app;
