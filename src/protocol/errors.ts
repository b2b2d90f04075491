// The closed set of error codes every layer speaks, and the one table that maps them to HTTP.
import { Type, type Static } from 'typebox';

export const ERROR_STATUS = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  lease_lost: 409,
  payload_too_large: 413,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export const ErrorBody = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    details: Type.Optional(Type.Unknown()),
  }),
});
export type ErrorBody = Static<typeof ErrorBody>;

/** The one error class thrown across the server, SDK and runner. `code` decides the HTTP status. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

/**
 * The code for a bare HTTP status (a proxy's page, the router's own error): the first code with
 * that status, so 409 reads as `conflict`, never `lease_lost`.
 */
export function codeForStatus(status: number): ErrorCode | undefined {
  const entry = Object.entries(ERROR_STATUS).find(([, s]) => s === status);
  return entry?.[0] as ErrorCode | undefined;
}

/** Narrows an unknown error code string (from the wire) to the closed set, or `internal`. */
export function toErrorCode(code: unknown): ErrorCode {
  return typeof code === 'string' && code in ERROR_STATUS ? (code as ErrorCode) : 'internal';
}
