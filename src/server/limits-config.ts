// Rate-limit and TLS settings of `outpost serve` (OUTPOST_RATE_LIMIT_*, OUTPOST_TLS_*).
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { intField, msField, pathField, type FieldReader } from '../lib/config-fields.ts';
import type { ServerConfig } from './config.ts';

export interface RateLimitConfig {
  /** Client writes (submissions and other client POSTs) per token per window; 0 turns it off. */
  rateLimitSubmitMax: number;
  rateLimitSubmitWindowMs: number;
  /** Failed authentications (bad token, bad enrolment code) per address per window; 0 is off. */
  rateLimitAuthFailMax: number;
  rateLimitAuthFailWindowMs: number;
}

export interface TlsConfig {
  /** PEM certificate chain and key; both or neither. With them the server speaks HTTPS. */
  tlsCert?: string;
  tlsKey?: string;
}

/**
 * Submissions: 6,000 a minute per token is far above any person or bot, yet stops a runaway loop
 * from filling the queue. Auth failures: 20 a minute per address stops guessing and noisy
 * misconfigured clients; a valid token is never slowed by failures from its address.
 */
export const RATE_LIMIT_DEFAULTS: RateLimitConfig = {
  rateLimitSubmitMax: 6_000,
  rateLimitSubmitWindowMs: 60_000,
  rateLimitAuthFailMax: 20,
  rateLimitAuthFailWindowMs: 60_000,
};

export function readLimitFields(r: FieldReader<ServerConfig>): RateLimitConfig & TlsConfig {
  const d = RATE_LIMIT_DEFAULTS;
  const count = intField(0, 100_000_000);
  const window = msField(1000, 86_400_000);
  const file = pathField({ home: homedir(), resolve, allowRelative: true });
  const limits: RateLimitConfig = {
    rateLimitSubmitMax: r.read(
      'rateLimitSubmitMax',
      ['OUTPOST_RATE_LIMIT_SUBMIT_MAX'],
      count,
      d.rateLimitSubmitMax,
    ),
    rateLimitSubmitWindowMs: r.read(
      'rateLimitSubmitWindowMs',
      ['OUTPOST_RATE_LIMIT_SUBMIT_WINDOW_MS'],
      window,
      d.rateLimitSubmitWindowMs,
    ),
    rateLimitAuthFailMax: r.read(
      'rateLimitAuthFailMax',
      ['OUTPOST_RATE_LIMIT_AUTH_FAIL_MAX'],
      count,
      d.rateLimitAuthFailMax,
    ),
    rateLimitAuthFailWindowMs: r.read(
      'rateLimitAuthFailWindowMs',
      ['OUTPOST_RATE_LIMIT_AUTH_FAIL_WINDOW_MS'],
      window,
      d.rateLimitAuthFailWindowMs,
    ),
  };
  const tlsCert = r.readOptional('tlsCert', ['OUTPOST_TLS_CERT'], file);
  const tlsKey = r.readOptional('tlsKey', ['OUTPOST_TLS_KEY'], file);
  if ((tlsCert === undefined) !== (tlsKey === undefined) && r.valid('tlsCert', 'tlsKey')) {
    r.addProblem('--tls-cert / --tls-key', 'TLS needs both a certificate and a key file');
  }
  return { ...limits, ...(tlsCert ? { tlsCert } : {}), ...(tlsKey ? { tlsKey } : {}) };
}
