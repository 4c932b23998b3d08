/** The job forms: create/edit (the API's rules, errors beside their fields) and the delete confirmation. */
import { MISSED_POLICIES, OVERLAP_POLICIES, PRIORITIES } from "../db/schema";
import type { JobFormFields, When } from "../jobs/form";
import type { JobView } from "../runs/views";
import { Spinner } from "./components";
import { cronHelp, FieldFeedback, isCheckedField, type CheckedField, type FieldErrors } from "./field-feedback";

export type JobFormValues = JobFormFields;

export const emptyForm: JobFormValues = {
  taskName: "",
  priority: "MEDIUM",
  payload: "{\n  \n}",
  when: "none",
  runAt: "",
  delaySeconds: "",
  cron: "",
  timezone: "UTC",
  startAt: "",
  endAt: "",
  limit: "",
  missed: "skip",
  overlap: "skip",
  webhookUrl: "",
  notifyOnCancel: undefined,
};

/** The form's values for editing a job (its timing is kept unless another is chosen). */
export function valuesOfJob(job: JobView): JobFormValues {
  const s = job.schedule;
  return {
    ...emptyForm,
    taskName: job.taskName,
    priority: job.priority,
    payload: JSON.stringify(job.payload, null, 2),
    when: "keep",
    cron: s?.cron ?? "",
    timezone: s?.timezone ?? "UTC",
    limit: s?.limit === undefined ? "" : String(s.limit),
    missed: s?.missed ?? "skip",
    overlap: s?.overlap ?? "skip",
    webhookUrl: job.webhookUrl ?? "",
    notifyOnCancel: job.notifyOnCancel ? "on" : undefined,
  };
}

const whenLabels: Record<When, string> = {
  keep: "Keep as it is",
  none: "When I run it",
  at: "At a time",
  delay: "After a delay",
  schedule: "On a schedule",
  unschedule: "No schedule any more",
};

/** Create or edit. The same rules as the API; errors are shown beside their fields. */
export function JobForm({ job, values, errors = {} }: { job?: JobView; values: JobFormValues; errors?: FieldErrors }) {
  const action = job ? `/jobs/${job.id}/edit` : "/jobs";
  const help: Partial<Record<CheckedField, string | null>> = { cron: cronHelp(values, errors) };
  const described = (field: keyof JobFormValues) =>
    errors[field]
      ? { "aria-invalid": "true", "aria-describedby": `${field}-error` }
      : isCheckedField(field) && help[field]
        ? { "aria-describedby": `${field}-help` }
        : {};
  const error = (field: keyof JobFormValues) =>
    isCheckedField(field) ? (
      <FieldFeedback field={field} error={errors[field]} help={help[field]} />
    ) : errors[field] ? (
      <small id={`${field}-error`} class="field-error">
        {errors[field]}
      </small>
    ) : null;
  // A checked field posts the form to its check as the person types, and swaps only what is said under it.
  const check = (field: keyof JobFormValues) =>
    isCheckedField(field)
      ? { "hx-post": `/jobs/form-check?field=${field}${job ? "&form=edit" : ""}`, "hx-trigger": "input changed delay:400ms", "hx-target": `#${field}-feedback`, "hx-swap": "outerHTML", "hx-indicator": `#${field}-feedback` }
      : {};
  const input = (field: keyof JobFormValues, label: string, attrs: Record<string, string | number | boolean | undefined> = {}) => (
    <>
      <label for={field}>{label}</label>
      <input id={field} name={field} value={String(values[field] ?? "")} {...attrs} {...described(field)} {...check(field)} />
      {error(field)}
    </>
  );
  const select = (field: "missed" | "overlap", label: string, options: readonly string[], words: Record<string, string>) => (
    <>
      <label for={field}>{label}</label>
      <select id={field} name={field} {...described(field)}>
        {options.map((o) => (
          <option value={o} selected={values[field] === o}>
            {words[o]}
          </option>
        ))}
      </select>
      {error(field)}
    </>
  );
  const whens: When[] = job ? ["keep", "at", "delay", "schedule", ...(job.schedule ? (["unschedule"] as const) : [])] : ["none", "at", "delay", "schedule"];
  const when = whens.includes(values.when) ? values.when : whens[0];
  return (
    <form id="job-form" method="post" action={action} hx-post={action} hx-target="this" hx-swap="outerHTML" hx-indicator="#form-saving" novalidate>
      {errors.form ? (
        <p class="form-error" role="alert">
          {errors.form}
        </p>
      ) : null}
      {input("taskName", "Task name", { required: true, maxlength: 200, autofocus: true })}
      <label for="priority">Priority</label>
      <select id="priority" name="priority" {...described("priority")}>
        {PRIORITIES.map((p) => (
          <option value={p} selected={values.priority === p}>
            {p.charAt(0) + p.slice(1).toLowerCase()}
          </option>
        ))}
      </select>
      {error("priority")}
      <label for="payload">Payload (a JSON object)</label>
      <textarea id="payload" name="payload" rows={6} class="mono" spellcheck={false} {...described("payload")} {...check("payload")}>
        {values.payload}
      </textarea>
      {error("payload")}
      <fieldset class="timing">
        <legend>When it runs</legend>
        {whens.map((w) => (
          <label class="inline">
            <input type="radio" name="when" value={w} checked={when === w} /> {whenLabels[w]}
          </label>
        ))}
        <div class="when-fields when-at">{input("runAt", "Run at (in the time zone below)", { type: "datetime-local" })}</div>
        <div class="when-fields when-delay">{input("delaySeconds", "Delay in seconds", { type: "number", min: 0, inputmode: "numeric" })}</div>
        <div class="when-fields when-schedule">
          {input("cron", "Cron (minute hour day month weekday)", { placeholder: "0 9 * * 1-5", class: "mono", autocomplete: "off" })}
          <div class="grid">
            <div>{input("startAt", "Starts (optional)", { type: "datetime-local" })}</div>
            <div>{input("endAt", "Ends (optional)", { type: "datetime-local" })}</div>
            <div>{input("limit", "At most (runs, optional)", { type: "number", min: 1, inputmode: "numeric" })}</div>
          </div>
          <div class="grid">
            <div>{select("missed", "Missed while nothing ran", MISSED_POLICIES, { skip: "Skip them", once: "Run once to catch up" })}</div>
            <div>{select("overlap", "Previous run still going", OVERLAP_POLICIES, { skip: "Skip this one", allow: "Run anyway" })}</div>
          </div>
        </div>
        <div class="when-fields when-at when-schedule">{input("timezone", "Time zone (IANA)", { placeholder: "Europe/London", autocomplete: "off" })}</div>
      </fieldset>
      {input("webhookUrl", "Webhook URL (optional; otherwise WEBHOOK_URL)", { type: "url", placeholder: "https://example.com/hooks/jobs" })}
      <label class="inline">
        <input type="checkbox" name="notifyOnCancel" checked={values.notifyOnCancel === "on"} /> Send a job.cancelled webhook when a run is cancelled
      </label>
      <footer class="form-actions">
        <button type="button" class="secondary" data-close-modal>
          Cancel
        </button>
        <button type="submit">{job ? "Save changes" : "Create job"}</button>
        <Spinner id="form-saving" />
      </footer>
    </form>
  );
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** How many a bounded count found: "1 run", "100+ runs". */
const counted = ({ total, totalExact }: { total: number; totalExact: boolean }, one: string, many: string) =>
  totalExact ? plural(total, one, many) : `${total}+ ${many}`;

export function DeleteConfirm({ job, runs, logs }: { job: JobView; runs: { total: number; totalExact: boolean }; logs: { total: number; totalExact: boolean } }) {
  return (
    <form method="post" action={`/jobs/${job.id}/delete`} hx-post={`/jobs/${job.id}/delete`} hx-swap="none">
      <p>
        Delete <strong>{job.taskName}</strong> (<code>{job.id}</code>)?{" "}
        {runs.total + logs.total > 0
          ? `Its ${counted(runs, "run", "runs")} and ${counted(logs, "webhook log entry", "webhook log entries")} go too.`
          : "It has never run."}{" "}
        This cannot be undone.
      </p>
      <footer class="form-actions">
        <button type="button" class="secondary" data-close-modal>
          Cancel
        </button>
        <button type="submit" class="danger">
          Delete job
        </button>
      </footer>
    </form>
  );
}

const bulkQuestion: Record<string, (n: string) => string> = {
  run: (n) => `Run ${n} now?`,
  cancel: (n) => `Cancel the current run of ${n}?`,
  pause: (n) => `Pause the schedules of ${n}?`,
  resume: (n) => `Resume the schedules of ${n}?`,
  delete: (n) => `Delete ${n}, with their runs and webhook logs? This cannot be undone.`,
};

/** The confirmation of a bulk action: says how many jobs it is, and posts them on. */
export function BulkConfirm({ action, ids }: { action: string; ids: string[] }) {
  const count = plural(ids.length, "job", "jobs");
  return (
    <form method="post" action="/jobs/bulk" hx-post="/jobs/bulk" hx-swap="none">
      <p>{bulkQuestion[action]!(count)}</p>
      <input type="hidden" name="action" value={action} />
      {ids.map((id) => (
        <input type="hidden" name="ids" value={id} />
      ))}
      <footer class="form-actions">
        <button type="button" class="secondary" data-close-modal>
          Keep them
        </button>
        <button type="submit" class={action === "delete" ? "danger" : ""}>
          {action.charAt(0).toUpperCase() + action.slice(1)} {count}
        </button>
      </footer>
    </form>
  );
}
