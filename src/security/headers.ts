/**
 * Security headers on every response: a Content-Security-Policy that allows only this origin's
 * scripts and styles (no inline script; htmx runs with allowEval off and no injected styles),
 * no framing, no MIME sniffing, no referrer leaks.
 */
import { secureHeaders } from "hono/secure-headers";

export const securityHeaders = () =>
  secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", "data:"],
      connectSrc: ["'self'"],
      fontSrc: ["'self'"],
      objectSrc: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
    },
    xFrameOptions: "DENY",
    xContentTypeOptions: "nosniff",
    referrerPolicy: "same-origin",
    strictTransportSecurity: "max-age=31536000; includeSubDomains",
  });
