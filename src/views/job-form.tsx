/** The job forms: create/edit (the API's rules, errors beside their fields) and the delete confirmation. */
import type { Job } from "../db/schema";
import { PRIORITIES } from "../db/schema";
import { Spinner } from "./components";

export interface JobFormValues {
  taskName: string;
  priority: string;
  payload: string;
}

export type FieldErrors = Partial<Record<keyof JobFormValues | "form", string>>;

/** Create or edit. The same rules as the API; errors are shown beside their fields. */
export function JobForm({ job, values, errors = {} }: { job?: Job; values: JobFormValues; errors?: FieldErrors }) {
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

export function DeleteConfirm({ job, logCount }: { job: Job; logCount: number }) {
  return (
    <form method="post" action={`/jobs/${job.id}/delete`} hx-post={`/jobs/${job.id}/delete`} hx-swap="none">
      <p>
        Delete <strong>{job.taskName}</strong> (<code>{job.id}</code>)?{" "}
        {logCount > 0 ? `Its ${logCount} webhook log ${logCount === 1 ? "entry goes" : "entries go"} too.` : "It has no webhook logs."} This cannot be
        undone.
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
