/**
 * Where a webhook may go. A hosted scheduler must not become a way into private networks: only
 * https:, no credentials in the URL, and no literal private, loopback, link-local or metadata
 * address. (The URL parser has already turned 2130706433, 0x7f.1 or 0177.0.0.1 into 127.0.0.1.)
 * Local development may allow http: and this machine. Names are not resolved here: Workers cannot,
 * and Cloudflare's network does not route fetches to private addresses anyway.
 */

const BLOCKED_V4: [number, number][] = [
  [0x00000000, 8], // 0.0.0.0/8 "this network"
  [0x0a000000, 8], // 10/8
  [0x64400000, 10], // 100.64/10 carrier-grade NAT
  [0x7f000000, 8], // 127/8 loopback
  [0xa9fe0000, 16], // 169.254/16 link-local, cloud metadata
  [0xac100000, 12], // 172.16/12
  [0xc0000000, 24], // 192.0.0/24 protocol assignments
  [0xc0a80000, 16], // 192.168/16
  [0xc6120000, 15], // 198.18/15 benchmarking
  [0xe0000000, 4], // 224/4 multicast
  [0xf0000000, 4], // 240/4 reserved, broadcast
];

const BLOCKED_NAMES = /(^|\.)(localhost|local|internal|localdomain|home\.arpa)$|^metadata\.google\.internal$/i;

function ipv4ToInt(host: string): number | null {
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

const inV4Range = (ip: number, [base, bits]: [number, number]) => Math.floor(ip / 2 ** (32 - bits)) === Math.floor(base / 2 ** (32 - bits));

function blockedIpv6(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "::1" || h === "::") return true; // loopback, unspecified
  if (/^f[cd][0-9a-f]{2}:/.test(h)) return true; // fc00::/7 unique local (incl. fd00:ec2::254 metadata)
  if (/^fe[89ab][0-9a-f]:/.test(h)) return true; // fe80::/10 link-local
  if (/^ff[0-9a-f]{2}:/.test(h)) return true; // multicast
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(h); // IPv4-mapped, as the URL parser writes it
  if (mapped) {
    const ip = parseInt(mapped[1]!, 16) * 65536 + parseInt(mapped[2]!, 16);
    return BLOCKED_V4.some((range) => inV4Range(ip, range));
  }
  return false;
}

const isLoopback = (host: string) => {
  const v4 = ipv4ToInt(host);
  return host === "localhost" || host === "[::1]" || (v4 !== null && inV4Range(v4, [0x7f000000, 8]));
};

/** Why a URL may not receive webhooks, or null when it may. */
export function unsafeWebhookTarget(raw: string, allowLocal: boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "not a valid URL";
  }
  if (url.username || url.password) return "credentials in the URL are not allowed (use a signing secret instead)";
  const host = url.hostname.toLowerCase();
  if (allowLocal && isLoopback(host)) return url.protocol === "http:" || url.protocol === "https:" ? null : "only http: and https: URLs";
  if (url.protocol !== "https:") return "only https: URLs are allowed";
  const v4 = ipv4ToInt(host);
  if (v4 !== null && BLOCKED_V4.some((range) => inV4Range(v4, range))) return `${host} is a private, loopback, link-local or reserved address`;
  if (host.startsWith("[") && blockedIpv6(host)) return `${host} is a private, loopback or link-local address`;
  if (BLOCKED_NAMES.test(host)) return `${host} names a local or internal host`;
  return null;
}
