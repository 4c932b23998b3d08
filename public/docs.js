// The API reference page (/docs): Swagger UI over the document the Worker generates at /openapi.json.
// A file of its own because the Content-Security-Policy allows no inline script.
window.addEventListener("DOMContentLoaded", () => {
  window.SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#reference",
    deepLinking: true,
    defaultModelsExpandDepth: 0,
    docExpansion: "list",
    tryItOutEnabled: false,
  });
});
