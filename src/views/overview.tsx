/**
 * The overview page: what the scheduler is doing, from the same figures as GET /api/stats. Charts are
 * SVG drawn here (no script, no inline style: colours come from app.css classes, which follow the
 * light or dark scheme); each has a table beside it that screen readers read instead. The live part
 * refreshes itself every 15 s and is morphed in place (app.js).
 */
import type { DeliveryState, JobStatus } from "../db/schema";
import type { HourStats, Stats } from "../stats/service";
import { poll, Time } from "./components";
import { formatMs } from "./format";

const REFRESH_MS = 15_000;

const number = (n: number) => n.toLocaleString("en-US");
/** A count that stopped at the limit says so: "10,000+". */
const atLeast = (n: number, limit: number, exact = n < limit) => `${number(n)}${exact ? "" : "+"}`;

/** A wait or a lag: as the logs show durations, then in minutes and hours. */
function duration(ms: number | null) {
  if (ms === null) return "—";
  if (ms < 60_000) return formatMs(ms);
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

const Card = ({ label, value, detail }: { label: string; value: string; detail?: string }) => (
  <article class="stat-card">
    <p class="stat-label">{label}</p>
    <p class="stat-value">{value}</p>
    {detail ? <p class="stat-detail muted">{detail}</p> : null}
  </article>
);

const hourLabel = (hour: Date) => `${String(hour.getUTCHours()).padStart(2, "0")}:00`;

/** Runs per hour: started (an outline bar) beside finished (completed, failed, cancelled stacked). */
function HourlyChart({ hourly }: { hourly: HourStats[] }) {
  const width = 720;
  const height = 200;
  const pad = { left: 36, bottom: 22, top: 8 };
  const slot = (width - pad.left) / hourly.length;
  const bar = Math.max(2, (slot - 4) / 2);
  const top = Math.max(1, ...hourly.map((h) => Math.max(h.started, h.completed + h.failed + h.cancelled)));
  const y = (n: number) => ((height - pad.bottom - pad.top) * n) / top;
  const base = height - pad.bottom;
  return (
    <svg class="chart" viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby="hourly-title">
      <title id="hourly-title">Runs started and finished per hour, last 24 hours (UTC)</title>
      <line class="axis" x1={pad.left} y1={base} x2={width} y2={base} />
      <text class="tick" x={pad.left - 6} y={pad.top + 8} text-anchor="end">
        {number(top)}
      </text>
      <text class="tick" x={pad.left - 6} y={base} text-anchor="end">
        0
      </text>
      {hourly.map((h, i) => {
        const x = pad.left + i * slot + 2;
        let stacked = base;
        const segment = (n: number, kind: string) => {
          if (n === 0) return null;
          stacked -= y(n);
          return <rect class={`bar bar-${kind}`} x={x + bar} y={stacked} width={bar} height={y(n)} />;
        };
        return (
          <g>
            {h.started > 0 ? <rect class="bar bar-started" x={x} y={base - y(h.started)} width={bar} height={y(h.started)} /> : null}
            {segment(h.completed, "completed")}
            {segment(h.failed, "failed")}
            {segment(h.cancelled, "cancelled")}
            {i % 3 === 0 ? (
              <text class="tick" x={x + bar} y={height - 6} text-anchor="middle">
                {hourLabel(h.hour)}
              </text>
            ) : null}
          </g>
        );
      })}
    </svg>
  );
}

/** Horizontal bars of counts by kind, each in its badge colour. */
function Bars<K extends string>({ id, title, counts, kinds, limit = Infinity }: { id: string; title: string; counts: Record<K, number>; kinds: readonly K[]; limit?: number }) {
  const width = 360;
  const row = 24;
  const labelWidth = 110;
  const top = Math.max(1, ...kinds.map((k) => counts[k]));
  return (
    <svg class="chart" viewBox={`0 0 ${width} ${row * kinds.length}`} role="img" aria-labelledby={`${id}-title`}>
      <title id={`${id}-title`}>{`${title}: ${kinds.map((k) => `${k.replace("_", " ").toLowerCase()} ${atLeast(counts[k], limit)}`).join(", ")}`}</title>
      {kinds.map((kind, i) => (
        <g>
          <text class="tick" x={labelWidth - 8} y={i * row + 16} text-anchor="end">
            {kind.replace("_", " ").toLowerCase()}
          </text>
          <rect class={`bar bar-${kind.toLowerCase()}`} x={labelWidth} y={i * row + 5} width={Math.max(counts[kind] > 0 ? 2 : 0, ((width - labelWidth - 50) * counts[kind]) / top)} height={row - 10} />
          <text class="tick value" x={labelWidth + ((width - labelWidth - 50) * counts[kind]) / top + 6} y={i * row + 16}>
            {atLeast(counts[kind], limit)}
          </text>
        </g>
      ))}
    </svg>
  );
}

const JOB_KINDS: readonly JobStatus[] = ["PENDING", "SCHEDULED", "IN_PROGRESS", "COMPLETED", "FAILED", "CANCELLED"];
const DELIVERY_KINDS: readonly DeliveryState[] = ["DELIVERED", "FAILED", "RETRYING", "PENDING", "SENDING"];

/** The live part: cards and charts, re-requested every 15 s. */
export function OverviewLive({ stats }: { stats: Stats }) {
  const { jobs, runs, deliveries, countLimit } = stats;
  const now = stats.generatedAt;
  const finished = runs.totals.completed + runs.totals.failed + runs.totals.cancelled;
  return (
    <section id="overview-live" aria-label="Figures" {...poll("/overview", REFRESH_MS)}>
      <div class="stat-cards">
        <Card label="Jobs" value={atLeast(jobs.total, countLimit, jobs.totalExact)} detail={`${atLeast(jobs.byStatus.SCHEDULED, countLimit)} scheduled`} />
        <Card label="Runs in progress" value={atLeast(runs.inProgress, countLimit)} detail={`${number(runs.totals.started)} started in 24 h`} />
        <Card
          label="Waiting to start"
          value={atLeast(runs.waiting.count, countLimit)}
          detail={runs.waiting.count > 0 ? `oldest due ${duration(runs.waiting.oldestWaitMs)} ago` : "nothing due is waiting"}
        />
        <Card
          label="Webhook lag p50 / p95"
          value={`${duration(deliveries.lagMs.p50)} / ${duration(deliveries.lagMs.p95)}`}
          detail={`${number(deliveries.lagMs.samples)} delivered, of the latest ${number(deliveries.sample.runs)} runs finished in 24 h`}
        />
        <Card
          label="Retry backlog"
          value={atLeast(deliveries.backlog.retrying, countLimit, deliveries.backlog.exact)}
          detail={`${atLeast(deliveries.backlog.pending + deliveries.backlog.sending, countLimit, deliveries.backlog.exact)} more under way`}
        />
      </div>

      <figure class="chart-box">
        <figcaption>
          <strong>Runs per hour</strong> <span class="muted">(last 24 h, UTC: {number(runs.totals.started)} started, {number(finished)} finished)</span>
          <span class="legend" aria-hidden="true">
            <i class="key bar-started"></i> started <i class="key bar-completed"></i> completed <i class="key bar-failed"></i> failed <i class="key bar-cancelled"></i> cancelled
          </span>
        </figcaption>
        <HourlyChart hourly={runs.hourly} />
        <details>
          <summary>As a table</summary>
          <table class="compact">
            <thead>
              <tr>
                <th scope="col">Hour (UTC)</th>
                <th scope="col">Started</th>
                <th scope="col">Completed</th>
                <th scope="col">Failed</th>
                <th scope="col">Cancelled</th>
              </tr>
            </thead>
            <tbody>
              {runs.hourly.map((h) => (
                <tr>
                  <th scope="row">{hourLabel(h.hour)}</th>
                  <td>{h.started}</td>
                  <td>{h.completed}</td>
                  <td>{h.failed}</td>
                  <td>{h.cancelled}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      </figure>

      <div class="chart-pair">
        <figure class="chart-box">
          <figcaption>
            <strong>Webhooks by state</strong>{" "}
            <span class="muted">
              (the latest {number(deliveries.sample.runs)} runs finished in the last 24 h{deliveries.sample.runs >= deliveries.sample.limit ? "" : ": all of them"})
            </span>
          </figcaption>
          <Bars id="deliveries" title="Webhooks of the latest runs finished by state" counts={deliveries.byState} kinds={DELIVERY_KINDS} />
        </figure>
        <figure class="chart-box">
          <figcaption>
            <strong>Jobs by status</strong> <span class="muted">(each job's latest run; counted up to {number(countLimit)})</span>
          </figcaption>
          <Bars id="jobs" title="Jobs by status" counts={jobs.byStatus} kinds={JOB_KINDS} limit={countLimit} />
        </figure>
      </div>
      <p class="summary">
        Updated <Time at={now} now={now} />; refreshes every {REFRESH_MS / 1000} s. The same figures: <a href="/docs#/Stats">GET /api/stats</a>.
      </p>
    </section>
  );
}

export const OverviewPage = ({ stats }: { stats: Stats }) => (
  <>
    <div class="page-head">
      <h1>Overview</h1>
    </div>
    <OverviewLive stats={stats} />
  </>
);
