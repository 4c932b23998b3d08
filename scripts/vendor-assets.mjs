#!/usr/bin/env node
// Copies the browser libraries the dashboard uses from node_modules into public/vendor/, so they are
// served by the Worker's own assets (never a CDN) at the exact versions in package-lock.json.
import { copyFileSync, mkdirSync } from "node:fs";

const files = {
  "node_modules/htmx.org/dist/htmx.min.js": "public/vendor/htmx.min.js",
  "node_modules/idiomorph/dist/idiomorph-ext.min.js": "public/vendor/idiomorph-ext.min.js",
  "node_modules/@picocss/pico/css/pico.min.css": "public/vendor/pico.min.css",
  // The API reference page (/docs).
  "node_modules/swagger-ui-dist/swagger-ui-bundle.js": "public/vendor/swagger-ui/swagger-ui-bundle.js",
  "node_modules/swagger-ui-dist/swagger-ui.css": "public/vendor/swagger-ui/swagger-ui.css",
};

mkdirSync("public/vendor/swagger-ui", { recursive: true });
for (const [from, to] of Object.entries(files)) copyFileSync(from, to);
