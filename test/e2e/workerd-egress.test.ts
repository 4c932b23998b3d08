/**
 * The egress rule docs/security.md gives a self-hosted workerd: the network service behind global
 * fetch() allows public addresses and denies private and local ones, and workerd applies it to the
 * addresses a name resolves to as well, which the webhook target check (literals and names only)
 * cannot do. A tiny Worker fetches a server this test runs on 127.0.0.1 and on the machine's private
 * addresses: refused under the rule (and under workerd's own default), reached under the network
 * wrangler dev and Miniflare configure.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname, networkInterfaces, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import ipaddr from "ipaddr.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../node/npm-start";
import { closedPort } from "../node/receiver";

const WORKERD = resolve("node_modules/workerd/bin/workerd");

/** The rule, as docs/security.md gives it. */
const RULE = '(allow = ["public"], deny = ["private", "local"])';
/** What wrangler dev and Miniflare give the Worker's fetch (so local webhooks reach 127.0.0.1). */
const AS_WRANGLER_DEV = '(allow = ["public", "private", "240.0.0.0/4"])';

/** Fetches `?target=` and says whether it got an answer. */
const WORKER = `export default {
  async fetch(request) {
    const target = new URL(request.url).searchParams.get("target");
    try {
      const res = await fetch(target);
      return Response.json({ reached: true, body: await res.text() });
    } catch (err) {
      return Response.json({ reached: false, error: String(err) });
    }
  },
};
`;

/** A workerd config: the Worker on `port`, and an "internet" service with `network`, or none (workerd's default). */
const config = (port: number, network: string | null) => `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    ${network === null ? "" : `(name = "internet", network = ${network}),`}
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [(name = "worker", esModule = embed "worker.js")],
  compatibilityDate = "2026-04-26",
);
`;

interface Workerd {
  child: ChildProcess;
  url: string;
  stderr: string[];
}

/**
 * This machine's private (RFC 1918) and unique-local addresses, such as a LAN address a name might
 * resolve to. (workerd counts a few more ranges as public than ipaddr.js does, TEST-NET among them.)
 */
const privateAddresses = () =>
  Object.values(networkInterfaces())
    .flat()
    .map((info) => info!.address)
    .filter((address) => ["private", "uniqueLocal"].includes(ipaddr.process(address).range()));

describe("a self-hosted workerd's egress rule", () => {
  const dir = mkdtempSync(join(tmpdir(), "scheduler-egress-"));
  const processes: Workerd[] = [];
  let server: Server;
  let targets: string[];

  beforeAll(async () => {
    // Listens on every address of this machine, IPv4 and IPv6.
    server = createServer((req, res) => res.end("hello from the private side"));
    await new Promise<void>((r) => server.listen(0, "::", () => r()));
    const { port } = server.address() as AddressInfo;
    const host = (address: string) => (address.includes(":") ? `[${address}]` : address);
    // Literal loopback addresses, names that resolve to loopback (this machine's own name among them), and the LAN's.
    targets = ["127.0.0.1", "[::1]", "localhost", hostname(), ...privateAddresses().map(host)].map((h) => `http://${h}:${port}/`);
    writeFileSync(join(dir, "worker.js"), WORKER);
  });

  afterAll(() => {
    for (const { child } of processes) {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function startWorkerd(name: string, network: string | null): Promise<Workerd> {
    const port = await closedPort();
    const file = join(dir, `${name}.capnp`);
    writeFileSync(file, config(port, network));
    const child = spawn(WORKERD, ["serve", file], { stdio: ["ignore", "ignore", "pipe"], detached: true });
    const started: Workerd = { child, url: `http://127.0.0.1:${port}`, stderr: [] };
    child.stderr!.on("data", (d: Buffer) => started.stderr.push(d.toString()));
    processes.push(started);
    await waitFor(`workerd (${name}) to listen`, async () => ((await fetch(`${started.url}/?target=data:,`)).ok ? true : undefined), 20_000);
    return started;
  }

  const fetchThrough = async (workerd: Workerd, target: string) =>
    (await (await fetch(`${workerd.url}/?target=${encodeURIComponent(target)}`)).json()) as { reached: boolean; body?: string; error?: string };

  it("runs the check on loopback, names that resolve to it, and this machine's private addresses", () => {
    expect(targets.length).toBeGreaterThanOrEqual(4);
  });

  it("refuses every one under the rule: workerd blocks the connection itself", async () => {
    const strict = await startWorkerd("rule", RULE);
    for (const target of targets) expect(await fetchThrough(strict, target), target).toMatchObject({ reached: false });
    const blocked = strict.stderr.join("").match(/connect\(\) blocked by restrictPeers\(\)/g) ?? [];
    expect(blocked.length).toBe(targets.length);
  });

  it("refuses them under workerd's own default too (no internet service configured)", async () => {
    const bare = await startWorkerd("default", null);
    for (const target of targets) expect(await fetchThrough(bare, target), target).toMatchObject({ reached: false });
  });

  it("reaches every one under the network wrangler dev and Miniflare configure", async () => {
    const open = await startWorkerd("as-wrangler-dev", AS_WRANGLER_DEV);
    for (const target of targets) expect(await fetchThrough(open, target), target).toEqual({ reached: true, body: "hello from the private side" });
  });
});
