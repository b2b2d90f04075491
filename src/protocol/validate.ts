// Compiled TypeBox checks that turn a wrong value into one AppError naming the field.
import type { TSchema, Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { AppError, type ErrorCode } from './errors.ts';
import { SPEC_SCHEMAS, type Kind, type SpecOf } from './tasks.ts';

type Checker = ReturnType<typeof Compile>;
const compiled = new WeakMap<TSchema, Checker>();

function checkerFor(schema: TSchema): Checker {
  let checker = compiled.get(schema);
  if (!checker) {
    checker = Compile(schema);
    compiled.set(schema, checker);
  }
  return checker;
}

/** A readable `field: message` line for the first few problems of a value. */
export function describeProblems(schema: TSchema, value: unknown, prefix: string): string[] {
  const problems: string[] = [];
  for (const e of checkerFor(schema).Errors(value)) {
    if (e.keyword === 'boolean') continue;
    const params = e.params as { additionalProperties?: string[]; requiredProperties?: string[] };
    const field = prefix + e.instancePath.replaceAll('/', '.');
    if (params.requiredProperties) {
      for (const name of params.requiredProperties) problems.push(`${field}.${name}: is required`);
    } else if (params.additionalProperties) {
      problems.push(`${field}.${params.additionalProperties.join(',')}: unknown field`);
    } else {
      problems.push(`${field}: ${e.message}`);
    }
    if (problems.length >= 5) break;
  }
  return problems;
}

/**
 * Returns `value` typed by `schema`, or throws an AppError naming the offending fields.
 * @example const hello = parseWith(HelloBody, json, 'body');
 */
export function parseWith<S extends TSchema>(
  schema: S,
  value: unknown,
  prefix: string,
  code: ErrorCode = 'bad_request',
): Static<S> {
  if (checkerFor(schema).Check(value)) return value as Static<S>;
  const problems = describeProblems(schema, value, prefix);
  throw new AppError(code, problems.join('; ') || `${prefix} is invalid`, { problems });
}

/** Validates a task spec against its kind's schema; errors name `spec.<field>`. */
export function parseTaskSpec<K extends Kind>(kind: K, spec: unknown): SpecOf<K> {
  return parseWith(SPEC_SCHEMAS[kind], spec, 'spec');
}
