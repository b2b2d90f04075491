// What a create body becomes in the store: a validated NewTask with its id, its defaults, its
// callbacks and, for an idempotent create, the hash that tells a repeat from a different request.
import { createHash } from 'node:crypto';
import { LIMITS, type CreateTaskBody } from '../../protocol/tasks.ts';
import { parseTaskSpec } from '../../protocol/validate.ts';
import { newId } from '../../lib/ids.ts';
import type { NewTask, TaskOrigin } from '../../store/types.ts';
import { isLegacyCompatible } from './legacy-compatible.ts';
import { prepareCallbacks, type ConfiguredSecrets } from '../callbacks/prepare-callbacks.ts';

export interface CreateOptions {
  origin: TaskOrigin;
  idempotencyKey?: string;
  metadata?: Record<string, unknown>;
}

/** The task a create body makes at `now`; throws `bad_request` for a spec or callback it refuses. */
export function buildNewTask(
  body: CreateTaskBody,
  opts: CreateOptions,
  now: number,
  secrets: ConfiguredSecrets,
): NewTask {
  const spec = parseTaskSpec(body.kind, body.spec);
  const callbacks = prepareCallbacks(body.callback, secrets);
  return {
    id: newId(now),
    kind: body.kind,
    spec,
    priority: body.priority ?? 0,
    runAt: body.runAt ?? now,
    timeoutMs: body.timeoutMs ?? LIMITS.timeoutMs.default,
    maxAttempts: body.maxAttempts ?? LIMITS.maxAttempts.default,
    retryOnFailure: body.retryOnFailure ?? false,
    target: body.target,
    labels: body.labels,
    sessionKey: body.sessionKey,
    concurrency: body.concurrency && {
      key: body.concurrency.key,
      limit: body.concurrency.limit ?? LIMITS.concurrencyLimit.default,
    },
    signature: body.signature,
    origin: opts.origin,
    metadata: opts.metadata,
    legacyCompatible: isLegacyCompatible(body.kind, spec),
    idempotencyKey: opts.idempotencyKey,
    requestHash: opts.idempotencyKey ? hashRequest(body) : undefined,
    ...(callbacks.length > 0 ? { callbacks } : {}),
  };
}

/** A stable hash of a request body (keys sorted), to tell a repeat from a different request. */
export function hashRequest(body: unknown): string {
  return createHash('sha256').update(stableJson(body)).digest('hex');
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
