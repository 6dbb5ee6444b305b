/**
 * Structured logs with pino, to stderr so that `--format json` keeps stdout for the report alone. Secrets are
 * redacted by key name wherever they appear in a logged object.
 */
import pino from 'pino';

export const REDACT_PATHS = [
  'password',
  'clientSecret',
  'refreshToken',
  'accessToken',
  'access_token',
  'refresh_token',
  'client_secret',
  'token',
  'secret',
  'authorization',
  'Authorization',
  'privateKey',
  'webhookSecret',
  '*.password',
  '*.clientSecret',
  '*.refreshToken',
  '*.accessToken',
  '*.access_token',
  '*.refresh_token',
  '*.client_secret',
  '*.token',
  '*.secret',
  '*.authorization',
  '*.Authorization',
  '*.privateKey',
  '*.webhookSecret',
  'headers.authorization',
  'req.headers.authorization',
];

export type Logger = pino.Logger;

export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino(
    {
      name: options.name ?? 'quota-tracker',
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    pino.destination(2),
  );
}

/** A logger that writes nothing, for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
