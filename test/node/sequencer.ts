/**
 * The order test files are handed to the workers in: the few that take minutes (each drives the app
 * started with `npm start`, or the benchmark) first, longest first, so that the many short ones fill
 * the slots around them instead of one of them starting last. Then vitest's own order (durations of
 * earlier runs when it has them, else the larger file first).
 */
import { BaseSequencer, type TestSpecification } from "vitest/node";

const LONGEST_FIRST = [
  "test/browser/dashboard.test.ts",
  "test/e2e/backup-restore.test.ts",
  "test/e2e/bench-cost.test.ts",
  "test/e2e/restart.test.ts",
  "test/e2e/run-timing.test.ts",
];

const rank = (spec: TestSpecification) => {
  const i = LONGEST_FIRST.findIndex((path) => spec.moduleId.endsWith(path));
  return i === -1 ? LONGEST_FIRST.length : i;
};

export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]) {
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}
