/**
 * Races made to happen: a D1 binding (the real one, through its own class and fetcher, as the cost
 * meter does) that, just before the first round trip whose request contains `marker` (a statement's
 * text or a bound value), runs `meanwhile` to the end. The code under test and `meanwhile` both run
 * for real on the same database; only the moment is chosen, so a race that production leaves to
 * chance (a run that finishes between a cancel's read and its write) happens every time.
 */
export interface Interleaved {
  db: D1Database;
  /** Whether `meanwhile` ran (the marker was seen). */
  fired: () => boolean;
}

export function interleave(db: D1Database, marker: string, meanwhile: () => Promise<unknown>): Interleaved {
  const fetcher = (db as D1Database & { fetcher?: Fetcher }).fetcher;
  if (!fetcher) throw new Error("this D1 binding has no fetcher to interleave through");
  const D1 = Object.getPrototypeOf(db).constructor as new (fetcher: Pick<Fetcher, "fetch">) => D1Database;
  let fired = false;
  const wrapped = new D1({
    fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
      if (!fired && typeof init?.body === "string" && init.body.includes(marker)) {
        fired = true;
        await meanwhile();
      }
      return fetcher.fetch(input, init);
    },
  });
  return { db: wrapped, fired: () => fired };
}
