/** Starts the webhook receiver once for the whole run and tells the workers where it is. */
import type { TestProject } from "vitest/node";
import { closedPort, startReceiver } from "./receiver";

declare module "vitest" {
  export interface ProvidedContext {
    receiverUrl: string;
    deadUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const { server, url } = await startReceiver();
  project.provide("receiverUrl", url);
  project.provide("deadUrl", `http://127.0.0.1:${await closedPort()}/hooks`);
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}
