// JSON bodies for every content type (old curl clients often omit the header), an empty body as
// "no body", and one ajv per part: query strings are coerced from text, JSON bodies never are.
import type { FastifyInstance } from 'fastify';
import { Ajv } from 'ajv';
import { AppError } from '../protocol/errors.ts';

export function installBodyParsing(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  const parser = (
    request: unknown,
    body: string | Buffer,
    done: (err: Error | null, body?: unknown) => void,
  ) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    void parseJson(request as never, text, (err, value) =>
      err ? done(new AppError('bad_request', 'Invalid JSON body')) : done(null, value),
    );
  };
  // Fastify's built-in text/plain parser would hand routes a string and beat the '*' parser.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parser);
  app.addContentTypeParser('*', { parseAs: 'string' }, parser);
  installValidators(app);
}

function installValidators(app: FastifyInstance): void {
  const common = { allErrors: false, strict: false, useDefaults: true } as const;
  const bodyAjv = new Ajv({ ...common, coerceTypes: false, removeAdditional: false });
  const textAjv = new Ajv({ ...common, coerceTypes: 'array', removeAdditional: false });
  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body' ? bodyAjv.compile(schema) : textAjv.compile(schema),
  );
}
