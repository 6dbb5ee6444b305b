/**
 * Structured logs with pino, to stderr so that `--format json` keeps stdout for the report alone. Secrets are
 * redacted by key name wherever they appear in a logged object.
 *
 * Format: one JSON object a line where a machine reads them (stderr is not a terminal: a pipe, a file, a log
 * collector; or `LOG_FORMAT=json`), one readable line where a person does (a terminal, or `LOG_FORMAT=pretty`):
 * `09:41:07 WARN  the message (connection=sf attempt=2)`. Colour only on a terminal and never with `NO_COLOR`.
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
  // A Slack incoming-webhook URL (reports.deliveries[].webhook) is its own credential, as config output says.
  'webhook',
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
  '*.webhook',
  'headers.authorization',
  'req.headers.authorization',
];

export type Logger = pino.Logger;

export type LogFormat = 'json' | 'pretty';

type Env = Readonly<Record<string, string | undefined>>;

/** JSON unless a person reads stderr: `LOG_FORMAT` (json, pretty) decides, else whether stderr is a terminal. */
export function logFormat(env: Env = process.env, tty: boolean = process.stderr.isTTY === true): LogFormat {
  const asked = env.LOG_FORMAT?.trim().toLowerCase();
  if (asked === 'json') return 'json';
  if (asked === 'pretty' || asked === 'text') return 'pretty';
  return tty ? 'pretty' : 'json';
}

/** ANSI colour on a terminal only, and never when NO_COLOR is set to anything (no-color.org). */
export function useColour(env: Env = process.env, tty: boolean = process.stderr.isTTY === true): boolean {
  return tty && !env.NO_COLOR;
}

const LEVELS: Readonly<Record<number, { name: string; colour: number }>> = {
  10: { name: 'TRACE', colour: 90 },
  20: { name: 'DEBUG', colour: 90 },
  30: { name: 'INFO', colour: 32 },
  40: { name: 'WARN', colour: 33 },
  50: { name: 'ERROR', colour: 31 },
  60: { name: 'FATAL', colour: 31 },
};

/** Fields every line has, which the readable line shows in its own way or not at all. */
const OWN_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg']);

function fieldText(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (value !== null && typeof value === 'object' && 'message' in value) {
    return JSON.stringify(String((value as { message: unknown }).message));
  }
  return JSON.stringify(value) ?? String(value);
}

/** One pino JSON line as a person reads it: time, level, message, then the other fields as key=value. */
export function prettyLine(json: string, colour: boolean): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const level = LEVELS[Number(entry.level)] ?? { name: String(entry.level), colour: 0 };
  const time = typeof entry.time === 'number' ? new Date(entry.time).toTimeString().slice(0, 8) : '';
  const label = level.name.padEnd(5);
  const shown = colour ? `\x1b[${level.colour}m${label}\x1b[0m` : label;
  const fields = Object.entries(entry)
    .filter(([k]) => !OWN_FIELDS.has(k))
    .map(([k, v]) => `${k}=${fieldText(v)}`);
  const msg = typeof entry.msg === 'string' ? entry.msg : '';
  // A message over several lines (a stack under --verbose) stays readable, indented under its first line.
  const body = msg.replace(/\n/g, '\n    ');
  return `${time ? `${time} ` : ''}${shown} ${body}${fields.length > 0 ? ` (${fields.join(' ')})` : ''}\n`;
}

export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  const settings = {
    name: options.name ?? 'quota-tracker',
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  if (logFormat() === 'json') return pino(settings, pino.destination(2));
  const colour = useColour();
  // Each line is formatted as it is written: the JSON pino makes (with its redaction) is the only source.
  return pino(settings, { write: (line: string) => process.stderr.write(prettyLine(line, colour)) });
}

/** A logger that writes nothing, for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
