/** The runtime's ceiling: a minimal Hono worker answering a constant JSON. */
import { Hono } from "hono";

const app = new Hono();
app.all("*", (c) => c.json({ success: true, data: { ok: true } }));

export default app;
