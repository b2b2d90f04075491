// `outpost token create|list|revoke`: through the API with an admin token, or straight on the
// server's database with --db (how the first token is made on a fresh server host).
import type { Command } from 'commander';
import { AppError } from '../../protocol/errors.ts';
import {
  ROLES,
  type CreatedEnrollment,
  type CreatedToken,
  type CreateEnrollmentBody,
  type CreateTokenBody,
  type Role,
  type TokenInfo,
} from '../../protocol/auth.ts';
import { loadConnection, withConnectionOptions, type ConnectionFlags } from '../connection.ts';
import { formatTime, printJson, printTable } from '../output.ts';
import { parseDurationOption } from '../options.ts';

interface TokenFlags extends ConnectionFlags {
  db?: string;
  json?: boolean;
  role?: string;
  runner?: string;
  ttl?: number;
}

/** The token operations, whichever way they reach the tokens. */
interface TokenAdmin {
  createToken(body: CreateTokenBody): Promise<CreatedToken>;
  listTokens(): Promise<{ tokens: TokenInfo[] }>;
  revokeToken(idOrName: string): Promise<unknown>;
  rotateToken(idOrName: string): Promise<CreatedToken>;
  createEnrollment(body: CreateEnrollmentBody): Promise<CreatedEnrollment>;
  close(): Promise<void>;
}

async function openTokenAdmin(flags: TokenFlags): Promise<TokenAdmin> {
  if (flags.db) {
    const { openLocalTokenAdmin } = await import('../local-tokens.ts');
    return openLocalTokenAdmin(flags.db);
  }
  const { OutpostClient } = await import('../../sdk/client.ts');
  const client = new OutpostClient(loadConnection(flags));
  return Object.assign(client, { close: async () => undefined });
}

function withTokenOptions(cmd: Command): Command {
  return withConnectionOptions(cmd)
    .option(
      '--db <path-or-url>',
      'work on this server database (SQLite file or postgres:// URL) directly, not through the API',
    )
    .option('--json', 'print JSON');
}

export function registerToken(program: Command): void {
  const token = program.command('token').description('Manage access tokens (admin)');
  withTokenOptions(
    token
      .command('create')
      .description('Create a token; its secret is shown once')
      .argument('<name>'),
  )
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .option('--runner <name>', 'bind a runner token to this runner name')
    .action(async (name: string, flags: TokenFlags) => {
      const role = parseRole(flags.role);
      const body = { name, role, ...(flags.runner ? { runner: flags.runner } : {}) };
      const created = await withTokenAdmin(flags, (admin) => admin.createToken(body));
      if (flags.json) return printJson(created);
      process.stdout.write(`${created.secret}\n`);
      process.stderr.write(
        `Created ${role} token '${name}'. Keep the secret above: it is not shown again.\n`,
      );
    });
  withTokenOptions(
    token.command('list').description('List live tokens (never their secrets)'),
  ).action(async (flags: TokenFlags) => {
    const { tokens } = await withTokenAdmin(flags, (admin) => admin.listTokens());
    if (flags.json) return printJson({ tokens });
    printTable([
      ['ID', 'NAME', 'ROLE', 'RUNNER', 'CREATED', 'LAST USED'],
      ...tokens.map((t) => [
        t.id,
        t.name,
        t.role,
        t.runner ?? '-',
        formatTime(t.createdAt),
        formatTime(t.lastUsedAt),
      ]),
    ]);
  });
  withTokenOptions(
    token.command('revoke').description('Revoke a token by id or name').argument('<id-or-name>'),
  ).action(async (idOrName: string, flags: TokenFlags) => {
    await withTokenAdmin(flags, (admin) => admin.revokeToken(idOrName));
    process.stdout.write(`Revoked ${idOrName}.\n`);
  });
  registerRotateAndEnroll(token);
}

function registerRotateAndEnroll(token: Command): void {
  withTokenOptions(
    token
      .command('rotate')
      .description('Give a token a new secret (shown once); the old one stops working at once')
      .argument('<id-or-name>'),
  ).action(async (idOrName: string, flags: TokenFlags) => {
    const rotated = await withTokenAdmin(flags, (admin) => admin.rotateToken(idOrName));
    if (flags.json) return printJson(rotated);
    process.stdout.write(`${rotated.secret}\n`);
    process.stderr.write(`Rotated '${rotated.token.name}'. The old secret no longer works.\n`);
  });
  withTokenOptions(
    token
      .command('enroll-code')
      .description('A one-time code a runner exchanges for a token bound to <runner>')
      .argument('<runner>'),
  )
    .option(
      '--ttl <duration>',
      'how long the code is valid (default 15m)',
      parseDurationOption('--ttl'),
    )
    .action(async (runner: string, flags: TokenFlags) => {
      const body = { runner, ...(flags.ttl !== undefined ? { ttlMs: flags.ttl } : {}) };
      const created = await withTokenAdmin(flags, (admin) => admin.createEnrollment(body));
      if (flags.json) return printJson(created);
      process.stdout.write(`${created.code}\n`);
      process.stderr.write(
        `One-time code for runner '${runner}', valid until ${formatTime(created.expiresAt)}.\n` +
          `On that machine run: outpost runner enroll <code> --url <this server's URL>\n`,
      );
    });
}

function parseRole(role: string | undefined): Role {
  if (role && (ROLES as readonly string[]).includes(role)) return role as Role;
  throw new AppError(
    'bad_request',
    `--role must be one of ${ROLES.join(', ')}; got "${role ?? ''}"`,
  );
}

async function withTokenAdmin<T>(
  flags: TokenFlags,
  use: (admin: TokenAdmin) => Promise<T>,
): Promise<T> {
  const admin = await openTokenAdmin(flags);
  try {
    return await use(admin);
  } finally {
    await admin.close();
  }
}
