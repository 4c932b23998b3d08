/**
 * Domain errors thrown by services. They carry no HTTP types; app.ts maps each kind to a status once.
 */
export type ErrorKind = "invalid" | "not_found" | "conflict" | "unavailable" | "unauthorized";

/** The HTTP status each kind answers with (the only place HTTP meets these errors). */
export const statusOfKind = { invalid: 400, not_found: 404, conflict: 409, unavailable: 503, unauthorized: 401 } as const satisfies Record<ErrorKind, number>;

export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
    this.name = "DomainError";
  }
}

/** Input that passed its schema but not a rule that needs the server's state (a webhook target under this deployment's rules). */
export const invalid = (message: string) => new DomainError("invalid", message);
export const notFound = (what: string, id: string) => new DomainError("not_found", `${what} '${id}' was not found`);
export const conflict = (message: string) => new DomainError("conflict", message);
export const unavailable = (message: string) => new DomainError("unavailable", message);
export const unauthorized = (message: string) => new DomainError("unauthorized", message);
