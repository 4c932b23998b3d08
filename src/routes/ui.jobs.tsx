/**
 * Dashboard routes for jobs. Each answers the full page for a browser and the fragment for htmx,
 * and calls the same job service as the JSON API.
 */
import { zValidator } from "@hono/zod-validator";
import { Hono, type Context } from "hono";
import type { HtmlEscapedString } from "hono/utils/html";
import { z } from "zod";
import type { AppEnv } from "../env";
import { formValuesOf, jobCreateForm, jobEditForm, repeatedFields, type JobFormFields } from "../jobs/form";
import { inWords } from "../jobs/form-words";
import { exportJobsQuery, jobIdParam, listJobsQuery, pageQuery, runIdParam } from "../jobs/schemas";
import { cursorParam } from "../lib/pagination";
import type { PageLink } from "../views/components";
import * as schedules from "../schedules/service";
import * as jobs from "../jobs/service";
import * as runs from "../runs/service";
import * as deliveryLog from "../webhooks/service";
import { exportResponse } from "./jobs.handlers";
import { JobDetailPage, JobLive, jobPageUrl, type JobDetail } from "../views/job-detail";
import { cronHelp, FieldFeedback, isCheckedField, type FieldErrors } from "../views/field-feedback";
import { DeleteConfirm, emptyForm, JobForm, valuesOfJob } from "../views/job-form";
import { JobRow, JobsPage, jobsUrl } from "../views/jobs";
import { Modal } from "../views/layout";
import { afterChange, renderTable } from "./ui.jobs-list";
import { backTo, currentUrl, renderPage, trigger, validPageInput, validPageQuery, wantsFragment } from "./ui.shared";

type Ctx = Context<AppEnv>;

/** A form shown in the modal for htmx, or as a page of its own without JavaScript. */
function formView(c: Ctx, title: string, form: HtmlEscapedString | Promise<HtmlEscapedString>, status: 200 | 400 | 422 = 200) {
  if (wantsFragment(c, "job-form")) return c.html(form, status);
  if (wantsFragment(c)) return c.html(<Modal title={title}>{form}</Modal>, status);
  return renderPage(c, "jobs", title, <article class="standalone-form"><h1>{title}</h1>{form}</article>, status);
}

/** Cancel, pause, resume from the job's page: the live section again, on the page of runs it was on, with a toast. */
async function timingAction(c: Ctx, act: (env: Ctx["env"], id: string) => Promise<unknown>, toast: string) {
  const id = c.req.param("id")!;
  await act(c.env, id);
  if (!wantsFragment(c)) return c.redirect(backTo(c, jobPageUrl(id)), 303);
  trigger(c, { toast });
  return c.html(<JobLive {...await loadDetail(c, id, currentRunsPage(c, id))} />);
}

/** Runs shown per page of a job's page. */
const RUNS_PER_PAGE = 10;
const runsPageQuery = z.object({ page: pageQuery.page, cursor: cursorParam("runs") });

/**
 * The page of runs the browser shows on this job's page (from HX-Current-URL): an action taken there
 * answers that page again, not the first.
 */
function currentRunsPage(c: Ctx, id: string): PageLink {
  const url = currentUrl(c);
  if (url?.pathname !== jobPageUrl(id)) return { page: 1 };
  const parsed = runsPageQuery.safeParse(Object.fromEntries(url.searchParams));
  return parsed.success ? parsed.data : { page: 1 };
}

/** Everything a job's page shows: the job, a page of its runs, and their attempts. */
async function loadDetail(c: Ctx, id: string, runsPage: PageLink = { page: 1 }): Promise<JobDetail> {
  const job = await jobs.getJob(c.env, id);
  const { items, pagination } = await runs.listJobRuns(c.env, id, { ...runsPage, limit: RUNS_PER_PAGE }, { known: true });
  const attempts = await runs.attemptsOf(
    c.env,
    items.map((run) => run.id),
  );
  return { job, runs: items, runsInfo: pagination, runsPage, attempts, now: new Date() };
}

/** Each issue beside its field: a schedule's issues beside the schedule field they name (cron, timezone, ...). */
const fieldOf = (path: PropertyKey[]) => String((path[0] === "schedule" ? (path[1] ?? "cron") : path[0]) ?? "form");

/** Each issue beside its field, in the dashboard's words (the first issue of a field wins). */
const formErrors = (issues: { path: PropertyKey[]; message: string }[], values: JobFormFields): FieldErrors =>
  Object.fromEntries(
    issues
      .map((i) => {
        const field = fieldOf(i.path);
        return [field, inWords(field, i.message, values)];
      })
      .reverse(),
  );

/** Form validation with the API's rules; a failure re-renders the form with each message beside its field. */
const validForm = <S extends typeof jobCreateForm | typeof jobEditForm>(schema: S, title: (c: Ctx) => Promise<string>) =>
  zValidator("form", schema, async (result, c) => {
    if (result.success) return;
    const ctx = c as unknown as Ctx;
    const id = ctx.req.param("id");
    const job = id ? await jobs.getJob(ctx.env, id) : undefined;
    const raw = result.data as Record<string, unknown>;
    const values = formValuesOf(raw);
    const errors = formErrors(result.error.issues, values);
    // A field sent twice is a malformed request (400), not a broken rule (422). Said at the top as well:
    // the field may be in a part of the form that is not shown (cron while the timing is kept).
    const repeated = repeatedFields(raw);
    if (repeated.length > 0) errors.form ??= repeated.map((field) => errors[field as keyof FieldErrors]).join("; ");
    const form = <JobForm job={job} values={values} errors={errors} />;
    return formView(ctx, await title(ctx), form, repeated.length > 0 ? 400 : 422);
  });

export const uiJobs = new Hono<AppEnv>()
  .get("/", validPageQuery(listJobsQuery), async (c) => {
    const query = c.req.valid("query");
    if (wantsFragment(c, "jobs-table")) {
      c.header("HX-Push-Url", jobsUrl(query));
      return renderTable(c, query);
    }
    const { items, pagination } = await jobs.listJobs(c.env, query);
    return renderPage(c, "jobs", "Jobs", <JobsPage jobs={items} info={pagination} query={query} now={new Date()} />);
  })

  .get("/jobs/new", (c) => formView(c, "New job", <JobForm values={emptyForm} />))

  // One field of the form (create, or edit: an empty task name keeps the name), checked with the whole
  // form's rules as the person types: its error, or nothing.
  .post("/jobs/form-check", async (c) => {
    const field = c.req.query("field") ?? "";
    if (!isCheckedField(field)) return c.notFound();
    const raw = await c.req.parseBody({ all: true });
    const values = formValuesOf(raw);
    const checked = (c.req.query("form") === "edit" ? jobEditForm : jobCreateForm).safeParse(raw);
    const errors = checked.success ? {} : formErrors(checked.error.issues, values);
    return c.html(<FieldFeedback field={field} error={errors[field]} help={field === "cron" ? cronHelp(values, errors) : null} />);
  })

  // The API's export, with the session instead of the API token (the list's links carry its filters).
  .get("/jobs/export", validPageQuery(exportJobsQuery), (c) => exportResponse(c.env, c.req.valid("query")))

  .post("/jobs", validForm(jobCreateForm, async () => "New job"), async (c) => {
    const { job } = await jobs.createJob(c.env, c.req.valid("form"));
    if (!wantsFragment(c)) return c.redirect("/", 303);
    return afterChange(c, `Job “${job.taskName}” created`, `/jobs/${job.id}`);
  })

  .get("/jobs/:id", validPageInput("param", jobIdParam), validPageQuery(runsPageQuery), async (c) => {
    const detail = await loadDetail(c, c.req.valid("param").id, c.req.valid("query"));
    if (wantsFragment(c, "job-live")) return c.html(<JobLive {...detail} />);
    return renderPage(c, "jobs", detail.job.taskName, <JobDetailPage {...detail} />);
  })

  .get("/jobs/:id/row", validPageInput("param", jobIdParam), async (c) => {
    const job = await jobs.getJob(c.env, c.req.valid("param").id);
    return c.html(<JobRow job={job} now={new Date()} />);
  })

  .get("/jobs/:id/live", validPageInput("param", jobIdParam), validPageQuery(runsPageQuery), async (c) => {
    return c.html(<JobLive {...await loadDetail(c, c.req.valid("param").id, c.req.valid("query"))} />);
  })

  .get("/jobs/:id/edit", validPageInput("param", jobIdParam), async (c) => {
    const job = await jobs.getJob(c.env, c.req.valid("param").id);
    return formView(c, `Edit “${job.taskName}”`, <JobForm job={job} values={valuesOfJob(job)} />);
  })

  .post(
    "/jobs/:id/edit",
    validPageInput("param", jobIdParam),
    validForm(jobEditForm, async (c) => `Edit “${(await jobs.getJob(c.env, c.req.param("id")!)).taskName}”`),
    async (c) => {
      const job = await jobs.updateJob(c.env, c.req.valid("param").id, c.req.valid("form"));
      if (!wantsFragment(c)) return c.redirect(`/jobs/${job.id}`, 303);
      return afterChange(c, `Job “${job.taskName}” saved`, `/jobs/${job.id}`);
    },
  )

  .post("/jobs/:id/run", validPageInput("param", jobIdParam), async (c) => {
    const { id } = c.req.valid("param");
    const job = await jobs.runJob(c.env, id);
    if (!wantsFragment(c)) return c.redirect(backTo(c, `/jobs/${id}`), 303);
    if (c.req.query("view") === "detail") return c.html(<JobLive {...await loadDetail(c, id, currentRunsPage(c, id))} />);
    return c.html(<JobRow job={job} now={new Date()} />);
  })

  .post("/jobs/:id/cancel", validPageInput("param", jobIdParam), (c) => timingAction(c, runs.cancelJob, "Run cancelled"))
  .post("/jobs/:id/pause", validPageInput("param", jobIdParam), (c) => timingAction(c, schedules.pauseJob, "Schedule paused"))
  .post("/jobs/:id/resume", validPageInput("param", jobIdParam), (c) => timingAction(c, schedules.resumeJob, "Schedule resumed"))

  .post("/runs/:runId/redeliver", validPageInput("param", runIdParam), async (c) => {
    const run = await runs.redeliverRun(c.env, c.req.valid("param").runId);
    if (!wantsFragment(c)) return c.redirect(backTo(c, jobPageUrl(run.jobId)), 303);
    trigger(c, { toast: `Redelivery of run ${run.number} queued` });
    return c.html(<JobLive {...await loadDetail(c, run.jobId, currentRunsPage(c, run.jobId))} />);
  })

  .get("/jobs/:id/delete", validPageInput("param", jobIdParam), async (c) => {
    const { id } = c.req.valid("param");
    const job = await jobs.getJob(c.env, id);
    // Counted as every list counts (ten pages of 10 ahead): "100+ runs" for a job that has more.
    const [logs, runList] = await Promise.all([deliveryLog.listJobLogs(c.env, id, { limit: 10, page: 1 }), runs.listJobRuns(c.env, id, { limit: 10, page: 1 }, { known: true })]);
    const form = <DeleteConfirm job={job} runs={runList.pagination} logs={logs.pagination} />;
    if (wantsFragment(c)) return c.html(<Modal title="Delete job?">{form}</Modal>);
    return renderPage(c, "jobs", "Delete job?", <article class="standalone-form"><h1>Delete job?</h1>{form}</article>);
  })

  .post("/jobs/:id/delete", validPageInput("param", jobIdParam), async (c) => {
    const { id } = c.req.valid("param");
    const job = await jobs.getJob(c.env, id);
    await jobs.deleteJob(c.env, id);
    if (!wantsFragment(c)) return c.redirect("/", 303);
    return afterChange(c, `Job “${job.taskName}” deleted`, "/");
  });
