/**
 * Starts the webhook receiver once for the whole run and tells the workers where it is; keeps the
 * runtime's notes about the connections the tests break on purpose out of the output.
 */
import type { TestProject } from "vitest/node";
import { quietWorkerd } from "./quiet-workerd";
import { closedPort, startReceiver } from "./receiver";

declare module "vitest" {
  export interface ProvidedContext {
    receiverUrl: string;
    deadUrl: string;
  }
}

export default async function setup(project: TestProject) {
  // For the whole process: the last runner socket closes after the teardown below.
  quietWorkerd();
  const { server, url } = await startReceiver();
  project.provide("receiverUrl", url);
  project.provide("deadUrl", `http://127.0.0.1:${await closedPort()}/hooks`);
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}
