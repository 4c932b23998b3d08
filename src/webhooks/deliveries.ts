/**
 * A delivery's state changes as Drizzle statements. Each is conditional on the series and attempt it
 * expects, so an attempt that outlived its lease, or a duplicated message, changes nothing. No other
 * module writes `deliveries`.
 *
 * | change                  | from -> to                                   | guard                                  | called by                          |
 * | ----------------------- | -------------------------------------------- | -------------------------------------- | ---------------------------------- |
 * | create                  | -> PENDING, or SENDING (attempt 1 claimed)   | its run finished; none yet; job exists | runs/lifecycle (complete, fail),   |
 * |   (createDeliveries)    |                                              |                                        | runs/service (cancel)              |
 * | claim (claimAttempt)    | PENDING, RETRYING, or SENDING past its lease | the series and attempt it read         | webhooks/attempts                  |
 * |                         |   -> SENDING, attempts + 1                   |                                        |                                    |
 * | settle (settleAttempts) | SENDING -> DELIVERED, RETRYING or FAILED     | the series and attempt it claimed      | webhooks/attempts                  |
 * | restart                 | DELIVERED or FAILED -> PENDING, series + 1   | finished                               | runs/service (redeliver)           |
 * |   (restartDelivery)     |                                              |                                        |                                    |
 * | give up (giveUpDelivery)| PENDING, SENDING, RETRYING -> FAILED         | attempted in its series                | background/dead-letter             |
 * | delete                  | finished -> gone                             | its run may go (retention, purge)      | background/retention, purge        |
 */
import { and, eq, getTableColumns, gt, inArray, lt, or, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { field, jsonEach } from "../db/json-rows";
import { cursors, deliveries, jobs, runs, webhookLogs, type Delivery, type DeliveryState } from "../db/schema";
import { purgeable, removable } from "../runs/retention";
import { finishedAfter, runIn } from "../runs/conditions";
import { deliveryBodyOf, type DeliveryWithBody, type RunRef, webhookEventSql, webhookIdSql } from "./body";

const ACTIVE: DeliveryState[] = ["PENDING", "SENDING", "RETRYING"];

/** What a write returns of a delivery: its row, with the bytes it sends. */
const withBody = { ...getTableColumns(deliveries), body: deliveryBodyOf("deliveries") };

export interface NewDeliveries {
  /** WEBHOOK_URL, frozen unless the job has a webhookUrl of its own (null: none configured yet; the first attempt takes it). */
  url: string | null;
  /** Set when the caller sends attempt 1 at once: the deliveries are created SENDING, holding this lease. */
  claimedUntil: Date | null;
  /** Only for runs CANCELLED at this time (by the cancel earlier in the same batch). */
  onlyCancelledAt?: Date;
}

/**
 * Creates the delivery of every listed run that has finished and has none yet (a cancelled run's only
 * when its job asks for job.cancelled webhooks). Its body is not stored: it is built from the run's row,
 * which no longer changes (body.ts). Idempotent (one delivery per run): a second call, or a duplicated
 * message, creates nothing. Returns the deliveries created, with their bodies.
 *
 * A delivery created with its first attempt claimed holds the lease in `leaseUntil` alone: it enters no
 * index (the message being handled is acknowledged only once the attempt is settled, and the sweep finds
 * an attempt whose worker died through its run: indexUnsettledFirstAttempts). One created PENDING is due now,
 * in deliveries_next_attempt_idx, for the sweep to find if its message is lost.
 */
export function createDeliveries(db: Db, refs: RunRef[], now: Date, { url, claimedUntil, onlyCancelledAt }: NewDeliveries) {
  // A person's cancel makes its run's delivery only if the cancel in its batch cancelled it then.
  const onlyIf = onlyCancelledAt ? sql`${runs.status} = 'CANCELLED' AND ${runs.completedAt} = ${onlyCancelledAt.getTime()}` : sql`1`;
  return db
    .insert(deliveries)
    .select(
      // Every column of `deliveries`, in table order.
      sql`SELECT
        ${runs.id},
        ${runs.jobId},
        ${webhookIdSql},
        ${webhookEventSql},
        coalesce(${jobs.webhookUrl}, ${url}),
        NULL,
        ${claimedUntil ? "SENDING" : "PENDING"},
        ${claimedUntil ? 1 : 0},
        1,
        ${claimedUntil ? null : now.getTime()},
        NULL,
        ${now.getTime()},
        NULL,
        ${claimedUntil?.getTime() ?? null}
      FROM ${runs}
      JOIN ${jobs} ON ${jobs.id} = ${runs.jobId}
      WHERE ${runIn(refs)}
        AND (${runs.status} IN ('COMPLETED', 'FAILED') OR (${runs.status} = 'CANCELLED' AND ${jobs.notifyOnCancel}))
        AND ${jobs.status} != 'DELETED'
        AND ${onlyIf}`,
    )
    .onConflictDoNothing()
    .returning(withBody);
}

/**
 * When the attempt in flight (SENDING) loses its lease: the later of nextAttemptAt and leaseUntil. A claim
 * writes its lease to leaseUntil alone and leaves nextAttemptAt as it was (a retry's due time, already
 * past; null for a first attempt), so that it writes no deliveries_next_attempt_idx entry; the sweep's
 * net for first attempts and migration 0014 wrote the lease to nextAttemptAt too, and a Worker from before
 * 0014 wrote it there alone, leaving an older leaseUntil behind: the later one is the lease.
 */
export const leaseOf = sql<number>`max(coalesce(${deliveries.nextAttemptAt}, ${deliveries.leaseUntil}), coalesce(${deliveries.leaseUntil}, ${deliveries.nextAttemptAt}))`;

/** A delivery's lease as a date (see leaseOf), for code that holds its row. */
export const leaseUntilOf = (delivery: Pick<Delivery, "leaseUntil" | "nextAttemptAt">): Date | null => {
  const [a, b] = [delivery.nextAttemptAt, delivery.leaseUntil];
  return a && b ? (a > b ? a : b) : (a ?? b);
};

/**
 * Takes the next attempt: bumps the attempt counter and holds a lease until `leaseUntil`, so a concurrent
 * copy of the same message cannot send a second request. A delivery without a target takes `url`. The
 * delivery stays in deliveries_next_attempt_idx where it was (its due time, now past): the sweep's search
 * for stalled deliveries passes it by until its lease has run out (findStalledDeliveries).
 */
export async function claimAttempt(
  db: Db,
  delivery: Pick<Delivery, "runId" | "series" | "attempts">,
  now: Date,
  leaseUntil: Date,
  url: string | null,
): Promise<DeliveryWithBody | undefined> {
  const [row] = await db
    .update(deliveries)
    // Not nextAttemptAt: setting it, even to the value it had, would write its index entry (see leaseOf).
    .set({ state: "SENDING", attempts: delivery.attempts + 1, leaseUntil, url: sql`coalesce(${deliveries.url}, ${url})` })
    .where(
      and(
        eq(deliveries.runId, delivery.runId),
        eq(deliveries.series, delivery.series),
        eq(deliveries.attempts, delivery.attempts),
        or(inArray(deliveries.state, ["PENDING", "RETRYING"]), and(eq(deliveries.state, "SENDING"), lt(leaseOf, now.getTime()))),
      ),
    )
    .returning(withBody);
  return row;
}

export interface AttemptOutcome {
  state: Extract<DeliveryState, "DELIVERED" | "RETRYING" | "FAILED">;
  nextAttemptAt: Date | null;
  lastError: string | null;
  /** When the receiver answered 2xx. */
  deliveredAt: Date | null;
}

/** How one attempt of a delivery ended. */
export interface SettledAttempt {
  delivery: Pick<Delivery, "runId" | "series" | "attempts">;
  outcome: AttemptOutcome;
}

/**
 * Records how attempts ended, in one statement for db.batch() so it lands together with their log rows.
 * Conditional on series and attempt: an attempt that outlived its lease settles nothing.
 */
export function settleAttempts(db: Db, settled: SettledAttempt[]) {
  const rows = settled.map(({ delivery, outcome }) => [
    delivery.runId,
    delivery.series,
    delivery.attempts,
    outcome.state,
    outcome.nextAttemptAt?.getTime() ?? null,
    outcome.lastError,
    outcome.deliveredAt?.getTime() ?? null,
  ]);
  const m = (i: number) => field(i, "m.value");
  return db
    .update(deliveries)
    .set({
      state: sql`${m(3)}`,
      nextAttemptAt: sql`${m(4)}`,
      leaseUntil: null,
      lastError: sql`${m(5)}`,
      deliveredAt: sql`coalesce(${m(6)}, ${deliveries.deliveredAt})`,
    })
    .from(sql`${jsonEach(rows)} as m`)
    // `+state`: look the rows up by primary key, never by walking every SENDING row.
    .where(sql`${deliveries.runId} = ${m(0)} and ${deliveries.series} = ${m(1)} and ${deliveries.attempts} = ${m(2)} and +${deliveries.state} = 'SENDING'`);
}

/** The walk of completed runs for first attempts whose worker died: its row in `cursors` (migration 0014 starts it where it ran). */
export const FIRST_ATTEMPTS_CURSOR = "first-attempts";

/**
 * First attempts in flight, which no index holds: those of the runs completed since the sweep's walk
 * (at most `limit` runs), whose attempts it has not looked at yet; an attempt still unsettled when the
 * walk passes its run enters deliveries_next_attempt_idx. For the overview's count of webhooks under way.
 */
export function firstAttemptsInFlight(db: Db, limit: number) {
  const at = sql`(SELECT c.at FROM ${cursors} c WHERE c.name = ${FIRST_ATTEMPTS_CURSOR})`;
  const id = sql`(SELECT c.id FROM ${cursors} c WHERE c.name = ${FIRST_ATTEMPTS_CURSOR})`;
  return sql`SELECT d.state AS state, d."leaseUntil" AS at FROM ${deliveries} d
    WHERE d."runId" IN (${finishedAfter({ at, id }, null, limit)}) AND d.state = 'SENDING' AND d."nextAttemptAt" IS NULL`;
}

/**
 * The sweep's net under first attempts, which enter no index while in flight (see createDeliveries): among
 * the runs of a step of the walk of completed runs (finishedAfter), a delivery still SENDING its first
 * attempt without an index entry enters deliveries_next_attempt_idx, due when its lease runs out. The
 * sweep's search for stalled deliveries then finds it once that is the grace ago (its worker died, and
 * its message is gone too), and a copy of its message that comes earlier waits out the lease. Whatever
 * the lease (a WEBHOOK_TIMEOUT_MS lowered since), the walk never passes an unsettled attempt by.
 */
export function indexUnsettledFirstAttempts(db: Db, after: { at: number; id: number }, until: number, limit: number) {
  return db
    .update(deliveries)
    .set({ nextAttemptAt: sql`${deliveries.leaseUntil}` })
    .where(sql`${deliveries.runId} IN (${finishedAfter(after, until, limit)}) AND ${deliveries.state} = 'SENDING' AND ${deliveries.nextAttemptAt} IS NULL`)
    .returning({ runId: deliveries.runId });
}

/** A finished delivery (DELIVERED or FAILED) starts a new series of attempts with the same webhook-id. */
export async function restartDelivery(db: Db, runId: number, now: Date): Promise<DeliveryWithBody | undefined> {
  const [row] = await db
    .update(deliveries)
    .set({ state: "PENDING", attempts: 0, series: sql`${deliveries.series} + 1`, nextAttemptAt: now, leaseUntil: null, lastError: null })
    .where(and(eq(deliveries.runId, runId), inArray(deliveries.state, ["DELIVERED", "FAILED"])))
    .returning(withBody);
  return row;
}

/** The queue gave up on this delivery: FAILED with the reason, unless it finished (or started a new series) meanwhile. */
export async function giveUpDelivery(db: Db, runId: number, reason: string) {
  const [row] = await db
    .update(deliveries)
    .set({ state: "FAILED", lastError: reason, nextAttemptAt: null, leaseUntil: null })
    .where(and(eq(deliveries.runId, runId), inArray(deliveries.state, ACTIVE), gt(deliveries.attempts, 0)))
    .returning({ runId: deliveries.runId });
  return row;
}

/**
 * Retention: deletes the deliveries of the removable runs among `runIds` (see runs/retention.ts) whose
 * log rows are gone (deleted earlier in the same batch), so an attempt's log never outlives its delivery.
 */
export function deleteDeliveries(db: Db, runIds: number[], before: Date) {
  return db.delete(deliveries).where(sql`${removable(deliveries.runId, runIds, before)}
    AND NOT EXISTS (SELECT 1 FROM ${webhookLogs} l WHERE l."runId" = ${deliveries.runId})`);
}

/** The purge: the deliveries of the purgeable runs among `ids` whose log rows are gone (deleted earlier in the same batch). */
export function deletePurgedDeliveries(db: Db, ids: number[]) {
  return db.delete(deliveries).where(sql`${purgeable(deliveries.runId, ids)}
    AND NOT EXISTS (SELECT 1 FROM ${webhookLogs} l WHERE l."runId" = ${deliveries.runId})`);
}
