/**
 * Standard Webhooks signatures: `v1,` + base64(HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>"))
 * for each configured `whsec_` secret, space-separated, so receivers can rotate secrets without downtime.
 */

const encoder = new TextEncoder();

function base64ToBytes(base64: string): Uint8Array {
  const binary = atob(base64);
  return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
}

function bytesToBase64(bytes: ArrayBuffer): string {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)));
}

/** Imported keys, per configured secret (a handful: bounded), so an attempt does not import its key again. */
const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", base64ToBytes(secret.slice("whsec_".length)), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    keys.set(secret, key);
  }
  return key;
}

export async function signatureHeader(secrets: string[], webhookId: string, timestampSeconds: number, body: string): Promise<string> {
  const content = encoder.encode(`${webhookId}.${timestampSeconds}.${body}`);
  const signatures = await Promise.all(
    secrets.map(async (secret) => {
      return `v1,${bytesToBase64(await crypto.subtle.sign("HMAC", await hmacKey(secret), content))}`;
    }),
  );
  return signatures.join(" ");
}
