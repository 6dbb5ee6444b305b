/**
 * The report as one self-contained HTML document, to email or publish: no external resource and no script, a small
 * inline style, `<h1>`/`<h2>`/`<table>` with the Markdown format's content. Every value is escaped (names come
 * from the CRM); numbers are right-aligned; a status is written out and coloured, never shown by colour alone.
 */
import type { JsonObject } from '../metrics/document.ts';
import { type Block, reportLayout } from './layout.ts';

export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const STYLE = [
  'body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:2em;color:#1f2328}',
  'h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.5em}',
  'table{border-collapse:collapse;margin:0.5em 0}',
  'th,td{border:1px solid #d0d7de;padding:0.25em 0.75em;text-align:left;vertical-align:top}',
  'thead th{background:#f6f8fa}',
  '.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}',
  '.tone-good{background:#dafbe1;color:#116329}.tone-fair{background:#fff8c5;color:#7d4e00}',
  '.tone-poor{background:#ffebe9;color:#a40e26}',
].join('\n');

/**
 * Status colours: a cell naming a status band, a coverage band or an alert's severity (alone, or as a figure's
 * `(band)` suffix, or a pace's `ahead`/`behind` ending) gets the band's class. The word stays printed: colour adds to
 * it, never replaces it.
 */
const TONES: Record<string, 'good' | 'fair' | 'poor'> = {
  'on track': 'good',
  strong: 'good',
  ahead: 'good',
  'likely to hit': 'fair',
  adequate: 'fair',
  'at risk': 'fair',
  warning: 'fair',
  'likely miss': 'poor',
  'significant gap': 'poor',
  'major gap': 'poor',
  low: 'poor',
  critical: 'poor',
  behind: 'poor',
};

export function toneOf(text: string): 'good' | 'fair' | 'poor' | null {
  const t = text.trim();
  const word = TONES[t] !== undefined ? t : (/\(([a-z ]+)\)$/.exec(t)?.[1] ?? /, (ahead|behind)$/.exec(t)?.[1]);
  return word === undefined ? null : (TONES[word] ?? null);
}

function cell(tag: 'th' | 'td', text: string, numeric: boolean, scope?: 'row' | 'col'): string {
  const tone = tag === 'td' ? toneOf(text) : null;
  const classes = [numeric ? 'num' : null, tone ? `tone-${tone}` : null].filter(Boolean);
  const attrs = `${scope ? ` scope="${scope}"` : ''}${classes.length > 0 ? ` class="${classes.join(' ')}"` : ''}`;
  return `<${tag}${attrs}>${escapeHtml(text)}</${tag}>`;
}

function block(b: Block): string[] {
  if (b.type === 'paragraph') return [`<p>${escapeHtml(b.text)}</p>`];
  // Built from numbers only (forecast-layout.ts), so it is inserted as it is.
  if (b.type === 'svg') return [`<figure>${b.svg}<figcaption>${escapeHtml(b.alt)}</figcaption></figure>`];
  if (b.type === 'figures')
    return [
      '<table>',
      ...b.rows.map(([label, value]) => `<tr>${cell('th', label, false, 'row')}${cell('td', value, true)}</tr>`),
      '</table>',
    ];
  return [
    '<table>',
    `<thead><tr>${b.columns.map((c) => cell('th', c.heading, c.numeric, 'col')).join('')}</tr></thead>`,
    '<tbody>',
    ...b.rows.map((r) => `<tr>${r.map((v, i) => cell('td', v, b.columns[i]?.numeric ?? false)).join('')}</tr>`),
    '</tbody>',
    '</table>',
  ];
}

/** HTML of any report document. */
export function reportHtml(kind: string, d: JsonObject): string {
  const layout = reportLayout(kind, d);
  const lines = [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>${escapeHtml(layout.title)}</title>`,
    `<style>\n${STYLE}\n</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeHtml(layout.title)}</h1>`,
  ];
  if (layout.context !== null) lines.push(`<p>${escapeHtml(layout.context)}</p>`);
  for (const section of layout.sections) {
    lines.push(`<h2>${escapeHtml(section.heading)}</h2>`);
    for (const b of section.blocks) lines.push(...block(b));
  }
  lines.push('</body>', '</html>', '');
  return lines.join('\n');
}
