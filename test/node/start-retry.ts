/**
 * wrangler dev picks its inspector port by probing from 9229 as it starts, and binds it only once the
 * Worker is built: two starting at the same moment can pick the same port, and one of them exits
 * ("Address already in use"). The test files run side by side, so a start that failed that way is
 * made again, after a short random wait that puts the two out of step. Any other failure is left to
 * the caller's own wait, which reports it with the app's output.
 */
import type { ChildProcess } from "node:child_process";

export interface Started {
  child: ChildProcess;
  output: string[];
}

const PORT_CLASH = /Address already in use/;
const gone = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

/**
 * Runs `start` until its process answers `ready` or exits for another reason than a port clash, at
 * most `attempts` times; each attempt waits at most `timeoutMs` for an answer.
 */
export async function startedWithoutPortClash<T extends Started>(start: () => T, ready: () => Promise<boolean>, attempts = 5, timeoutMs = 90_000): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const started = start();
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !gone(started.child)) {
      try {
        if (await ready()) return started;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    // wrangler dev exits a moment after workerd's bind failed: let the process group finish.
    if (!gone(started.child)) return started;
    if (attempt >= attempts || !PORT_CLASH.test(started.output.join(""))) return started;
    try {
      process.kill(-started.child.pid!, "SIGKILL"); // whatever of its process group is left
    } catch {
      // all gone
    }
    await new Promise((r) => setTimeout(r, 500 + Math.random() * 2000));
  }
}
