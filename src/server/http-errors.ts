// The one error handler: AppErrors, validation errors and Fastify's own errors become the v1 body
// `{error:{code,message,details?}}`, or the legacy `{error:"message"}` on legacy routes.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, codeForStatus } from '../protocol/errors.ts';

/** The router's "param too long" and "unsupported media type" are plain bad requests here. */
const BAD_REQUEST_STATUSES = new Set([414, 415]);

/** Maps anything thrown in a route to an AppError; unknown errors become `internal`. */
export function toAppError(err: unknown, bodyLimit?: number): AppError {
  if (err instanceof AppError) return err;
  const fe = err as Partial<FastifyError> & { validation?: unknown };
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    // Says which limit, so the sender knows whether to shrink the body or ask for a higher limit.
    const limit = bodyLimit === undefined ? '' : ` of ${bodyLimit} bytes`;
    return new AppError(
      'payload_too_large',
      `Request body is larger than the server's limit${limit} (OUTPOST_MAX_BODY_BYTES)`,
    );
  }
  if (Array.isArray(fe.validation)) return validationError(fe.validation, fe.validationContext);
  if (isJsonParseError(fe)) return new AppError('bad_request', 'Invalid JSON body');
  // Only framework errors (with a status) are the client's to read; anything else is a bug whose
  // message may hold internals, so the client gets a generic one and the log gets the rest.
  if (fe.statusCode === undefined || fe.statusCode >= 500)
    return new AppError('internal', 'Internal server error');
  const status = fe.statusCode;
  const code = BAD_REQUEST_STATUSES.has(status) ? 'bad_request' : codeForStatus(status);
  if (code) return new AppError(code, fe.message ?? code);
  return new AppError('internal', 'Internal server error');
}

interface ValidationIssue {
  instancePath: string;
  keyword?: string;
  schemaPath?: string;
  message?: string;
  params?: { additionalProperty?: string; allowedValues?: unknown[] };
}

/** "body.spec.timeoutMs must be >= 1000": the field first, so the caller sees what to fix. */
function validationError(issues: ValidationIssue[], context = 'body'): AppError {
  const messages = closestAlternative(issues).map((issue) => {
    const path = context + issue.instancePath.replaceAll('/', '.');
    const extra = issue.params?.additionalProperty;
    if (extra) return `${path}.${extra}: unknown field`;
    const allowed = issue.params?.allowedValues;
    const hint = allowed ? ` (${allowed.map(String).join(', ')})` : '';
    return `${path}: ${issue.message ?? 'is invalid'}${hint}`;
  });
  return new AppError('bad_request', messages.join('; '), { problems: messages });
}

/**
 * When a value matched none of a union's shapes (e.g. a single finish or a batch), ajv reports
 * every shape's complaint plus "must match a schema in anyOf". Keep the shape the sender got
 * furthest into (its complaints lie deepest in the body): "body.results.0.outcome: required", not
 * also "body: must have required property 'taskId'". Shapes that got equally far are all kept.
 */
function closestAlternative(issues: ValidationIssue[]): ValidationIssue[] {
  let kept = issues;
  for (const union of issues.filter((i) => i.keyword === 'anyOf' && i.schemaPath)) {
    const prefix = `${union.schemaPath!}/`;
    const branchOf = (i: ValidationIssue): string | undefined =>
      i.schemaPath?.startsWith(prefix)
        ? i.schemaPath.slice(prefix.length).split('/')[0]
        : undefined;
    const reach = new Map<string, number>();
    for (const issue of kept) {
      const branch = branchOf(issue);
      if (branch !== undefined) reach.set(branch, Math.max(reach.get(branch) ?? 0, depth(issue)));
    }
    const furthest = Math.max(...reach.values());
    kept = kept.filter((i) => {
      if (i === union) return reach.size === 0;
      const branch = branchOf(i);
      return branch === undefined || reach.get(branch) === furthest;
    });
  }
  return kept;
}

/** How far into the body an issue lies; an unknown field counts as one level below its object. */
function depth(issue: ValidationIssue): number {
  const levels = issue.instancePath === '' ? 0 : issue.instancePath.split('/').length - 1;
  return levels + (issue.params?.additionalProperty === undefined ? 0 : 1);
}

function isJsonParseError(fe: Partial<FastifyError>): boolean {
  return (
    fe.statusCode === 400 &&
    (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe instanceof SyntaxError)
  );
}

/** Legacy routes answer `{error:"..."}`; so does a request that matched no route outside /v1/. */
export function isLegacyRoute(request: FastifyRequest): boolean {
  const config = request.routeOptions.config as { legacy?: boolean } | undefined;
  if (config?.legacy === true) return true;
  return request.is404 && !request.url.startsWith('/v1/');
}

export function sendError(
  err: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const appError = toAppError(err, request.routeOptions.bodyLimit);
  if (appError.code === 'internal') request.log.error({ err }, 'request failed');
  void reply.status(appError.status);
  if (isLegacyRoute(request)) return reply.send({ error: appError.message });
  const body = { code: appError.code, message: appError.message, details: appError.details };
  return reply.send({ error: body });
}
