// `outpost keys create|show`: the Ed25519 key pair clients sign tasks with. The private key stays
// with the client (mode 0600); the one-line public key goes into each runner's trustedKeys.
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { AppError } from '../../protocol/errors.ts';
import { printJson } from '../output.ts';
import { defaultKeysDir, keyIdOfPath, publicKeyLine, readPrivateKey } from '../signing-key.ts';

interface KeysFlags {
  name: string;
  out?: string;
  json?: boolean;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function registerKeys(program: Command): void {
  const keys = program
    .command('keys')
    .description('Signing keys for signed tasks (runners in require-signed mode)');
  keys
    .command('create')
    .description('Make an Ed25519 key pair: <dir>/<name>.key (private, 0600) and <name>.pub')
    .option('--name <name>', 'the key id runners will know it by', 'default')
    .option('--out <dir>', 'where to write it (default ~/.outpost/keys)')
    .option('--json', 'print {id, publicKey, privateKeyPath} as JSON')
    .action((flags: KeysFlags) => {
      const { path, id, publicKey } = createKeyPair(flags);
      if (flags.json) return printJson({ id, publicKey, privateKeyPath: path });
      process.stdout.write(
        `Private key: ${path} (keep it secret; sign with --sign-key ${path})\n` +
          `Public key:  ${publicKey}\n\nTrust it on a runner (config file):\n` +
          `  "signing": { "mode": "require", "trustedKeys": [{ "id": "${id}", "publicKey": "${publicKey}" }] }\n` +
          `or env: OUTPOST_SIGNING=require OUTPOST_TRUSTED_KEYS=${id}=${publicKey}\n`,
      );
    });
  keys
    .command('show')
    .description('Print the public key of a private key')
    .argument('[path]', 'the private key file (default: <dir>/<name>.key)')
    .option('--name <name>', 'the key to show', 'default')
    .option('--out <dir>', 'the keys directory (default ~/.outpost/keys)')
    .option('--json', "print {id, publicKey}: an entry of a runner's trustedKeys")
    .action((path: string | undefined, flags: KeysFlags) => {
      const file = path ?? join(keysDir(flags), `${flags.name}.key`);
      const publicKey = publicKeyLine(readPrivateKey(file));
      if (flags.json) printJson({ id: keyIdOfPath(file), publicKey });
      else process.stdout.write(`${publicKey}\n`);
    });
}

function keysDir(flags: KeysFlags): string {
  return resolve(flags.out ?? defaultKeysDir());
}

function createKeyPair(flags: KeysFlags): { path: string; id: string; publicKey: string } {
  if (!NAME.test(flags.name)) {
    throw new AppError(
      'bad_request',
      `--name must be 1-128 of A-Z a-z 0-9 . _ -, got "${flags.name}"`,
    );
  }
  const dir = keysDir(flags);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' });
  const path = join(dir, `${flags.name}.key`);
  const publicKey = publicKeyLine(privateKey);
  try {
    // 'wx': never overwrite a key (tasks signed with it would stop verifying); 0600 from creation.
    writeFileSync(path, pem, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new AppError('bad_request', `${path} exists; choose another --name or --out`);
    }
    throw err;
  }
  writeFileSync(join(dir, `${flags.name}.pub`), `${publicKey}\n`, { mode: 0o644 });
  return { path, id: flags.name, publicKey };
}
