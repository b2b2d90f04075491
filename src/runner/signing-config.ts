// The runner's signed-task settings: env OUTPOST_SIGNING* beat the config file's `signing` object.
// In `require` mode the runner runs only tasks signed by one of its trusted keys.
import { parsePublicKey } from '../protocol/signature.ts';
import {
  createFieldReader,
  enumField,
  msField,
  type ConfigFile,
  type FieldParser,
} from '../lib/config-fields.ts';

export interface TrustedKey {
  /** The `keyId` signatures name. */
  id: string;
  /** `ed25519:<base64 of the 32-byte raw key>` (what `outpost keys show` prints). */
  publicKey: string;
}

export interface SigningSettings {
  mode: 'off' | 'require';
  trustedKeys: readonly TrustedKey[];
  /** How far the runner's clock may be off the client's, either way. */
  clockSkewMs: number;
  /** A signature valid for longer than this from now is refused: a leaked task must not live forever. */
  maxValidityMs: number;
}

export const SIGNING_OFF: SigningSettings = Object.freeze({
  mode: 'off',
  trustedKeys: Object.freeze([]),
  clockSkewMs: 60_000,
  maxValidityMs: 24 * 3_600_000,
});

const KEY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const KEYS_RULE = 'must be a list of {id, publicKey: "ed25519:<base64>"} (env: id=ed25519:...,...)';

/** Reads `signing` settings; problems are returned, not thrown, so one error lists them all. */
export function readSigningSettings(
  env: NodeJS.ProcessEnv,
  file: { label: string; signing: unknown } | undefined,
): { signing: SigningSettings; problems: string[] } {
  const problems: string[] = [];
  let values: Record<string, unknown> = {};
  if (file) {
    const raw = file.signing;
    if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
      values = raw as Record<string, unknown>;
    } else problems.push(`${file.label}: key 'signing' must be an object`);
  }
  const source: ConfigFile | undefined = file && { label: `${file.label} signing`, values };
  const r = createFieldReader<SigningSettings>({ env, file: source });
  const d = SIGNING_OFF;
  const signing: SigningSettings = {
    mode: r.read('mode', ['OUTPOST_SIGNING'], enumField(['off', 'require'] as const), d.mode),
    trustedKeys: r.read('trustedKeys', ['OUTPOST_TRUSTED_KEYS'], trustedKeysField, []),
    clockSkewMs: r.read(
      'clockSkewMs',
      ['OUTPOST_SIGNING_CLOCK_SKEW_MS'],
      msField(0, 3_600_000),
      d.clockSkewMs,
    ),
    maxValidityMs: r.read(
      'maxValidityMs',
      ['OUTPOST_SIGNING_MAX_VALIDITY_MS'],
      msField(60_000, 366 * 86_400_000),
      d.maxValidityMs,
    ),
  };
  if (signing.mode === 'require' && signing.trustedKeys.length === 0 && r.valid('trustedKeys')) {
    r.addProblem(r.labelOf('trustedKeys'), 'signing mode require needs at least one trusted key');
  }
  return { signing, problems: [...problems, ...r.finish()] };
}

/** A JSON array of {id, publicKey}, or from env `id=ed25519:...,id2=ed25519:...`. */
const trustedKeysField: FieldParser<TrustedKey[]> = (raw) => {
  const entries = typeof raw === 'string' ? fromEnvText(raw) : raw;
  if (!Array.isArray(entries)) return { ok: false, message: KEYS_RULE };
  const keys: TrustedKey[] = [];
  for (const entry of entries as unknown[]) {
    const { id, publicKey } = (entry ?? {}) as Partial<Record<keyof TrustedKey, unknown>>;
    if (typeof id !== 'string' || !KEY_ID.test(id)) {
      return { ok: false, message: `${KEYS_RULE}; bad id ${JSON.stringify(id)}` };
    }
    if (typeof publicKey !== 'string' || !parsePublicKey(publicKey)) {
      return {
        ok: false,
        message: `${KEYS_RULE}; key '${id}' is not ed25519:<base64 of 32 bytes>`,
      };
    }
    if (keys.some((k) => k.id === id)) return { ok: false, message: `key id '${id}' is repeated` };
    keys.push({ id, publicKey });
  }
  return { ok: true, value: keys };
};

function fromEnvText(text: string): unknown[] {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const at = part.indexOf('=');
      return at < 0 ? {} : { id: part.slice(0, at), publicKey: part.slice(at + 1) };
    });
}
