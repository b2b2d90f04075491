// `outpost serve` with --tls-cert/--tls-key speaks HTTPS; the certificate is made here by openssl.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadServerConfig } from '../../src/server/config.ts';
import { startServer } from '../../src/cli/start-server.ts';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const skip = hasOpenssl()
  ? false
  : 'openssl is not installed: node:crypto cannot make an X.509 certificate';

function getJson(url: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('TLS for outpost serve', () => {
  it('serves HTTPS from certificate files', { skip }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-tls-'));
    try {
      const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
          '-keyout',
          key,
          '-out',
          cert,
        ],
        { stdio: 'ignore' },
      );
      const config = loadServerConfig({
        OUTPOST_DATA_DIR: dir,
        OUTPOST_PORT: '0',
        OUTPOST_LOG_LEVEL: 'silent',
        OUTPOST_TOKEN: 'tls-test-token-0123456789',
        OUTPOST_TLS_CERT: cert,
        OUTPOST_TLS_KEY: key,
      });
      const server = await startServer(config);
      try {
        assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
        const res = await getJson(`${server.url}/health`, readFileSync(cert));
        assert.equal(res.status, 200, res.body);
      } finally {
        await server.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops start-up with a clear message when a file cannot be read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-tls-'));
    try {
      const config = loadServerConfig({
        OUTPOST_DATA_DIR: dir,
        OUTPOST_PORT: '0',
        OUTPOST_LOG_LEVEL: 'silent',
        OUTPOST_TLS_CERT: join(dir, 'missing.pem'),
        OUTPOST_TLS_KEY: join(dir, 'missing-key.pem'),
      });
      await assert.rejects(startServer(config), /--tls-cert: cannot read/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
