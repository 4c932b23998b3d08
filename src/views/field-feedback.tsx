/**
 * What the job form says under a field a person types in: its error, or (a cron) what it means. The
 * form renders it, and the form-check route answers it again as the person types (see ui.jobs.tsx).
 */
import type { JobFormFields } from "../jobs/form";
import { cronInWords, cronProblemInWords } from "../schedules/describe";

/** A form's errors by field ("form": the form as a whole). */
export type FieldErrors = Partial<Record<keyof JobFormFields | "form", string>>;

/** The fields a person types in, checked again as they type, so an error goes once the field is right. */
export const CHECKED_FIELDS = ["taskName", "payload", "cron", "timezone", "runAt", "delaySeconds", "startAt", "endAt", "limit", "webhookUrl"] as const;
export type CheckedField = (typeof CHECKED_FIELDS)[number];
export const isCheckedField = (field: string): field is CheckedField => (CHECKED_FIELDS as readonly string[]).includes(field);

/** A cron that reads well, in words, to show under it; null while it has an error or reads as nothing. */
export const cronHelp = (values: JobFormFields, errors: FieldErrors) =>
  !errors.cron && values.cron.trim() && !cronProblemInWords(values.cron) ? cronInWords(values.cron) : null;

/** What is said under a checked field: its error, else (a cron) what it means; replaced by each check. */
export function FieldFeedback({ field, error, help }: { field: CheckedField; error?: string; help?: string | null }) {
  return (
    <div id={`${field}-feedback`} data-feedback-for={field} aria-live="polite">
      {error ? (
        <small id={`${field}-error`} class="field-error">
          {error}
        </small>
      ) : help ? (
        <small id={`${field}-help`} class="field-help">
          {help}
        </small>
      ) : null}
    </div>
  );
}
