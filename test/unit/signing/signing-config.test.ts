// The runner's `signing` settings: env beats the file, every problem listed, keys validated.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readSigningSettings } from '../../../src/runner/signing-config.ts';
import { loadRunnerConfig } from '../../../src/runner/config.ts';
import { publicKeyLine } from '../../../src/cli/signing-key.ts';

const line = publicKeyLine(generateKeyPairSync('ed25519').privateKey);

describe('signing settings', () => {
  it('is off by default', () => {
    const { signing, problems } = readSigningSettings({}, undefined);
    assert.equal(signing.mode, 'off');
    assert.deepEqual(problems, []);
  });

  it('reads the file object and env, env first', () => {
    const file = {
      label: 'runner.json',
      signing: { mode: 'off', trustedKeys: [{ id: 'a', publicKey: line }] },
    };
    const { signing, problems } = readSigningSettings({ OUTPOST_SIGNING: 'require' }, file);
    assert.deepEqual(problems, []);
    assert.equal(signing.mode, 'require');
    assert.deepEqual(signing.trustedKeys, [{ id: 'a', publicKey: line }]);
    const env = readSigningSettings(
      { OUTPOST_SIGNING: 'require', OUTPOST_TRUSTED_KEYS: `laptop=${line}, ci=${line}` },
      undefined,
    );
    assert.deepEqual(
      env.signing.trustedKeys.map((k) => k.id),
      ['laptop', 'ci'],
    );
  });

  it('lists problems: require without keys, a bad key, an unknown field', () => {
    assert.match(
      readSigningSettings({ OUTPOST_SIGNING: 'require' }, undefined).problems.join('\n'),
      /at least one trusted key/,
    );
    const bad = readSigningSettings(
      {},
      {
        label: 'r.json',
        signing: { trustedKeys: [{ id: 'x', publicKey: 'ed25519:AAAA' }], colour: 1 },
      },
    );
    assert.match(bad.problems.join('\n'), /key 'x' is not ed25519/);
    assert.match(bad.problems.join('\n'), /unknown key 'colour'/);
  });

  it('is part of the runner config', () => {
    const config = loadRunnerConfig({
      OUTPOST_TOKEN: 'a-runner-token-0123456789',
      OUTPOST_SIGNING: 'require',
      OUTPOST_TRUSTED_KEYS: `laptop=${line}`,
    });
    assert.equal(config.signing.mode, 'require');
    assert.throws(
      () =>
        loadRunnerConfig({ OUTPOST_TOKEN: 'a-runner-token-0123456789', OUTPOST_SIGNING: 'maybe' }),
      /OUTPOST_SIGNING: must be one of off, require/,
    );
  });
});
