/** The job forms: create/edit (the API's rules, errors beside their fields) and the delete confirmation. */
import { PRIORITIES } from "../db/schema";
import type { JobView } from "../runs/views";
import { Spinner } from "./components";

export interface JobFormValues {
  taskName: string;
  priority: string;
  payload: string;
}

export type FieldErrors = Partial<Record<keyof JobFormValues | "form", string>>;

/** Create or edit. The same rules as the API; errors are shown beside their fields. */
export function JobForm({ job, values, errors = {} }: { job?: JobView; values: JobFormValues; errors?: FieldErrors }) {
  const action = job ? `/jobs/${job.id}/edit` : "/jobs";
  const described = (field: keyof JobFormValues) =>
    errors[field] ? { "aria-invalid": "true", "aria-describedby": `${field}-error` } : {};
  const error = (field: keyof JobFormValues) =>
    errors[field] ? (
      <small id={`${field}-error`} class="field-error">
        {errors[field]}
      </small>
    ) : null;
  return (
    <form id="job-form" method="post" action={action} hx-post={action} hx-target="this" hx-swap="outerHTML" hx-indicator="#form-saving" novalidate>
      {errors.form ? <p class="form-error" role="alert">{errors.form}</p> : null}
      <label for="taskName">Task name</label>
      <input id="taskName" name="taskName" value={values.taskName} required maxlength={200} autofocus {...described("taskName")} />
      {error("taskName")}
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
      <textarea id="payload" name="payload" rows={8} class="mono" spellcheck={false} {...described("payload")}>
        {values.payload}
      </textarea>
      {error("payload")}
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

export function DeleteConfirm({ job, runCount, logCount }: { job: JobView; runCount: number; logCount: number }) {
  return (
    <form method="post" action={`/jobs/${job.id}/delete`} hx-post={`/jobs/${job.id}/delete`} hx-swap="none">
      <p>
        Delete <strong>{job.taskName}</strong> (<code>{job.id}</code>)?{" "}
        {runCount + logCount > 0
          ? `Its ${plural(runCount, "run", "runs")} and ${plural(logCount, "webhook log entry", "webhook log entries")} go too.`
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
