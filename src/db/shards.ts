/**
 * Shards: a deployment's jobs spread over D1 databases, bound as `DB` (shard 0), `DB_1`, `DB_2`, ...
 * (consecutive; the first missing number ends the list). A job lives wholly in one shard, with its runs,
 * deliveries, log rows, search entry and Idempotency-Key, so every write of a lifecycle is one batch on
 * one database. Its id says which: shard 0's ids are as they always were, shard k's end in `-k`.
 *
 * Lists that cross jobs merge the shards' pages, so their keys must be one order across shards: with
 * more than one shard, a job's rowid, a run's id and a log row's id are `time in ms * 64 + shard`
 * (never less than the shard's largest key + 64), so keys sort by creation across shards and each names
 * its shard. A single database keeps SQLite's own small keys; keys made before a deployment grew (all
 * below 2^40) belong to shard 0, and sort before every key made after.
 */
import type { Env } from "../env";
import { withDb } from "../env";

/** Most shards a deployment may have: a key's low six bits name its shard. */
export const MAX_SHARDS = 64;
/** Keys below this were made by one database alone (SQLite's rowids): they are shard 0's. */
const SHARDED_KEYS_FROM = 2 ** 40;

/** Which shard a D1 handle (a binding, a session of one, a counted copy) reads, and out of how many. */
export interface ShardOf {
  index: number;
  count: number;
}
const shardOfHandle = new WeakMap<object, ShardOf>();
const ALL = Symbol("shards");
const PINNED = Symbol("shard");
type Sharded = Env & { [ALL]?: D1Database[]; [PINNED]?: number };

/** The bindings `DB`, `DB_1`, ... in shard order (registered, so a handle knows its shard). */
export function shardBindings(env: Env): D1Database[] {
  const listed = (env as Sharded)[ALL];
  if (listed) return listed;
  const dbs: D1Database[] = [env.DB];
  const named = env as unknown as Record<string, unknown>;
  for (let k = 1; k < MAX_SHARDS && named[`DB_${k}`]; k++) dbs.push(named[`DB_${k}`] as D1Database);
  register(dbs);
  return dbs;
}

export const shardCount = (env: Env) => shardBindings(env).length;

function register(dbs: D1Database[]) {
  dbs.forEach((db, index) => db && shardOfHandle.set(db, { index, count: dbs.length }));
}

/** What shard a D1 handle is (shard 0 of 1 when it was never registered: a database of its own). */
export const shardOf = (db: D1Database): ShardOf => shardOfHandle.get(db) ?? { index: 0, count: 1 };

/** `env` over these handles of its shards (sessions, counted copies), in shard order. */
export function withShards(env: Env, dbs: D1Database[]): Env {
  register(dbs);
  const copy = withDb(env, dbs[0]!) as Sharded;
  copy[ALL] = dbs;
  delete copy[PINNED];
  return copy;
}

/** `env` whose `DB` is shard `k`: what every service that works on one job's rows is given. */
export function onShard(env: Env, k: number): Env {
  const dbs = shardBindings(env);
  const copy = withDb(env, dbs[k]!) as Sharded;
  copy[ALL] = dbs;
  copy[PINNED] = k;
  return copy;
}

/** Each shard's env, in order (one of them for a single database); only its own for an env pinned to a shard. */
export const eachShard = (env: Env): Env[] => ((env as Sharded)[PINNED] !== undefined ? [env] : shardBindings(env).map((_, k) => onShard(env, k)));

/**
 * A periodic pass (the sweep, retention, the purge, the rollup) on every shard of `env` (only its own when
 * it is pinned to one), side by side: their reports' counts add up.
 */
export async function onEveryShard<R extends object>(env: Env, pass: (env: Env) => Promise<R>): Promise<R> {
  const reports = await Promise.all(eachShard(env).map(pass));
  if (reports.length === 1) return reports[0]!;
  return reports.reduce((sum, report) => {
    const total = sum as Record<string, number>;
    for (const [name, n] of Object.entries(report)) total[name] = (total[name] ?? 0) + (n as number);
    return sum;
  });
}

/** The shard `env` was pinned to (onShard), if any. */
export const pinnedShard = (env: Env): number | undefined => (env as Sharded)[PINNED];

/** The shard a job id names (`-k` at its end); an id naming a shard this deployment lacks is looked for in shard 0, where it is not. */
export function shardOfJob(env: Env, id: string): number {
  const m = /-([1-9]\d?)$/.exec(id);
  const k = m ? Number(m[1]) : 0;
  return k < shardCount(env) ? k : 0;
}

/** The shard a run's or a log row's id names. */
export function shardOfKey(env: Env, key: number): number {
  const k = key < SHARDED_KEYS_FROM ? 0 : key % MAX_SHARDS;
  return k < shardCount(env) ? k : 0;
}

/** `env` on the shard that holds job `id`. */
export const onJobShard = (env: Env, id: string) => onShard(env, shardOfJob(env, id));

/** A job id for shard `k`: shard 0's as before, another's with `-k` after it. */
export const jobIdOnShard = (id: string, k: number) => (k === 0 ? id : `${id}-${k}`);

/** Groups items by the shard `shardOf` names, in shard order: [shard, items] of each shard with any. */
export function byShard<T>(env: Env, items: readonly T[], shardOfItem: (item: T) => number): [number, T[]][] {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const k = shardOfItem(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return [...groups.entries()].sort(([a], [b]) => a - b);
}

/** Runs `work` on the shard of each group of job ids, side by side; answers in shard order (inOrderOf puts ids back in the caller's). */
export function forJobs<R>(env: Env, ids: readonly string[], work: (env: Env, ids: string[]) => Promise<R>): Promise<R[]> {
  return Promise.all(byShard(env, ids, (id) => shardOfJob(env, id)).map(([k, group]) => work(onShard(env, k), group)));
}

/** `items` in the order their ids had in `ids` (after a forJobs, whose answers come shard by shard). */
export function inOrderOf<T>(ids: readonly string[], items: T[], idOf: (item: T) => string): T[] {
  const place = new Map(ids.map((id, i) => [id, i]));
  return items.sort((a, b) => (place.get(idOf(a)) ?? 0) - (place.get(idOf(b)) ?? 0));
}

let turn = Math.floor(Math.random() * MAX_SHARDS);

/**
 * The shard a create puts its job in: the one its Idempotency-Key hashes to (so a repeated create asks
 * the shard that answered the first), else the next in turn (each isolate starts at a random one).
 */
export function shardForCreate(env: Env, idempotencyKey?: string): number {
  const n = shardCount(env);
  if (n === 1) return 0;
  if (idempotencyKey !== undefined) return fnv1a(idempotencyKey) % n;
  turn = (turn + 1) % n;
  return turn;
}

/** FNV-1a, 32 bits: an even spread of short keys, the same in every isolate. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * The key of shard `index` at `nowMs`, as SQL text (with more than one shard): a new row takes the larger
 * of it and the shard's largest key + 64 (db/ids.ts, jobs/state.ts), so keys never repeat in a shard and
 * keep its number in their low six bits.
 */
export const shardedKeyFloor = ({ index }: ShardOf, nowMs: number) => String(Math.trunc(nowMs) * MAX_SHARDS + index);
