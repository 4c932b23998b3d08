/**
 * Where a webhook may go. A hosted scheduler must not become a way into private networks: only
 * https:, no credentials in the URL, no local or internal name, and no literal address outside the
 * public unicast space. Addresses are classified by ipaddr.js (private, loopback, link-local, CGNAT,
 * multicast, reserved, IPv4-mapped, NAT64, 6to4, Teredo, site-local, ...). The URL parser has already
 * turned 2130706433, 0x7f.1 or 0177.0.0.1 into 127.0.0.1. Local development may allow http: and this
 * machine. Names are not resolved here (Workers cannot): a name that resolves to a private address
 * passes, and the network under the Worker must refuse it (docs/security.md).
 */
import ipaddr from "ipaddr.js";

/**
 * IPv6 ranges ipaddr.js counts as unicast that still lead elsewhere: IPv4-compatible addresses
 * (`[::127.0.0.1]`, deprecated, an IPv4 address in disguise).
 */
const EXTRA_BLOCKED_V6 = [ipaddr.parseCIDR("::/96")] as const;

const BLOCKED_NAMES = /(^|\.)(localhost|local|internal|localdomain|home\.arpa)$|^metadata\.google\.internal$/i;

/** Why `address` (an IP literal) may not receive webhooks, or null when it is public unicast. */
function blockedAddress(address: string): string | null {
  if (!ipaddr.isValid(address)) return null;
  const ip = ipaddr.parse(address);
  const range = ip.range();
  if (range !== "unicast") return `${address} is not a public address (${range})`;
  if (ip.kind() === "ipv6" && EXTRA_BLOCKED_V6.some((cidr) => ip.match(cidr))) return `${address} is not a public address (IPv4-compatible)`;
  return null;
}

const isLoopback = (host: string) => host === "localhost" || (ipaddr.isValid(host) && ipaddr.process(host).range() === "loopback");

/** Why a URL may not receive webhooks, or null when it may. */
export function unsafeWebhookTarget(raw: string, allowLocal: boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "not a valid URL";
  }
  if (url.username || url.password) return "credentials in the URL are not allowed (use a signing secret instead)";
  // `localhost.` is localhost: a trailing dot only makes a name fully qualified.
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, "").replace(/\.+$/, "");
  if (allowLocal && isLoopback(host)) return url.protocol === "http:" || url.protocol === "https:" ? null : "only http: and https: URLs";
  if (url.protocol !== "https:") return "only https: URLs are allowed";
  const blocked = blockedAddress(host);
  if (blocked) return blocked;
  if (BLOCKED_NAMES.test(host)) return `${host} names a local or internal host`;
  return null;
}
