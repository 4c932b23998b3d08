/** The runtime's ceiling: a minimal Hono worker answering a constant JSON. */
import { Hono } from "hono";

const app = new Hono();
// The request body is read (as any POST handler does): workerd closes a keep-alive connection whose
// body was left unread, and the load driver would count a reset instead of a response.
app.all("*", async (c) => {
  await c.req.arrayBuffer();
  return c.json({ success: true, data: { ok: true } });
});

export default app;
