/**
 * How a report prints one figure, shared by the text, Markdown and HTML formats so that a figure reads the same in
 * each: money with thousands separators, ratios as percents (the JSON ratio times 100, two places), coverage as a
 * multiple (the JSON ratio), and a missing value as `n/a (reason)`. Every number printed is the JSON's number.
 */

import type { Json } from '../metrics/document.ts';
import { groupThousands } from '../util/money.ts';

export type Obj = Record<string, Json | undefined>;

export function obj(v: Json | undefined): Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
}

export function list(v: Json | undefined): Obj[] {
  return Array.isArray(v) ? v.map(obj) : [];
}

export function str(v: Json | undefined): string | null {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null;
}

/** `522000.00` as `522,000.00`; null as `n/a (reason)`. */
export function money(v: Json | undefined, reason?: Json): string {
  const s = str(v);
  if (s === null) return na(reason);
  return groupThousands(s);
}

/** A four-place ratio as a percent with two places, exactly (`0.8700` is `87.00%`). */
export function pct(v: Json | undefined, reason?: Json): string {
  const s = str(v);
  if (s === null) return na(reason);
  const neg = s.startsWith('-');
  const [int = '0', frac = ''] = (neg ? s.slice(1) : s).split('.');
  const digits = `${int}${frac.padEnd(4, '0')}`.replace(/^0+(?=\d{3})/, '');
  const whole = digits.slice(0, -2) || '0';
  return `${neg ? '-' : ''}${whole.replace(/^0+(?=\d)/, '')}.${digits.slice(-2)}%`;
}

/** A ratio as a multiple (`3.7179x`). */
export function times(v: Json | undefined, reason?: Json): string {
  const s = str(v);
  return s === null ? na(reason) : `${s}x`;
}

export function na(reason: Json | undefined): string {
  return typeof reason === 'string' ? `n/a (${words(reason)})` : 'n/a';
}

/** `on_track` as `on track`. */
export function words(code: string): string {
  return code.replace(/_/g, ' ');
}

/** A positive figure with its `+`. */
export function signed(text: string, raw: Json | undefined): string {
  const s = str(raw);
  return s !== null && !s.startsWith('-') ? `+${text}` : text;
}

/** A ratio difference as signed percentage points (`0.0500` is `+5.00 pts`). */
export function points(v: Json | undefined, reason?: Json): string {
  const s = str(v);
  if (s === null) return na(reason);
  return signed(`${pct(v).slice(0, -1)} pts`, v);
}
