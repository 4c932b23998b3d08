/**
 * The API's reference: `/openapi.json` (openapi/document.ts) and `/docs`, a page that renders it with
 * Swagger UI served from public/vendor/ (no CDN, no inline script: the strict CSP stays). No token: it
 * holds no data.
 */
import { Hono } from "hono";
import type { AppEnv } from "../env";
import { openApiDocument } from "../openapi/document";

export const reference = new Hono<AppEnv>()
  .get("/openapi.json", async (c) => c.json(await openApiDocument()))
  .get("/docs", (c) =>
    c.html(
      "<!doctype html>" +
        (
          <html lang="en">
            <head>
              <meta charset="utf-8" />
              <meta name="viewport" content="width=device-width, initial-scale=1" />
              <title>API reference · Edge Job Scheduler</title>
              <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
              <link rel="stylesheet" href="/vendor/swagger-ui/swagger-ui.css" />
            </head>
            <body>
              <main id="reference" aria-label="API reference">
                <p>Loading the API reference… (the document itself is at <a href="/openapi.json">/openapi.json</a>)</p>
              </main>
              <script src="/vendor/swagger-ui/swagger-ui-bundle.js"></script>
              <script src="/docs.js"></script>
            </body>
          </html>
        ).toString(),
    ),
  );
