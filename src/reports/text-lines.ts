/**
 * A report layout's sections as terminal text: figures as labelled rows, tables as aligned columns, paragraphs
 * wrapped at the text width. Shared by the subject reports (text.ts) and the forecast reports (forecast-layout.ts).
 */
import type { Section } from './layout.ts';

export function row(label: string, value: string): string {
  return `  ${label.padEnd(26)}${value}`;
}

/** Text lines end by this column where a paragraph has spaces to break at; tables keep their rows whole. */
const TEXT_WIDTH = 120;

/**
 * One paragraph as terminal lines: broken at spaces before TEXT_WIDTH, continuation lines indented four more than
 * the first, so that a long working (a forecast's inputs, a rank's peers, a history's quarters) stays readable in a
 * terminal and a pager instead of one line hundreds of characters long. A word longer than the width stays whole.
 */
export function wrapParagraph(text: string, width = TEXT_WIDTH): string[] {
  if (text.length <= width) return [text];
  const indent = /^ */.exec(text)?.[0] ?? '';
  const hanging = `${indent}    `;
  const lines: string[] = [];
  let line = indent;
  let start = true;
  for (const word of text.slice(indent.length).split(/ +/).filter(Boolean)) {
    if (!start && line.length + 1 + word.length > width) {
      lines.push(line);
      line = hanging + word;
      continue;
    }
    line = start ? line + word : `${line} ${word}`;
    start = false;
  }
  if (!start) lines.push(line);
  return lines;
}

/** A layout section as the text prints it: its heading in capitals, figures as rows, tables as aligned columns. */
export function sectionLines(section: Section): string[] {
  const lines = ['', section.heading.toUpperCase()];
  for (const b of section.blocks) {
    if (b.type === 'figures') for (const [l, v] of b.rows) lines.push(row(l, v));
    else if (b.type === 'paragraph') lines.push(...wrapParagraph(`  ${b.text}`));
    else if (b.type === 'svg') lines.push(`  (diagram in --format html: ${b.alt})`);
    else {
      const widths = b.columns.map((c, i) => Math.max(c.heading.length, ...b.rows.map((r) => (r[i] ?? '').length)));
      const fmt = (cells: readonly string[]) =>
        `  ${cells.map((v, i) => (b.columns[i]?.numeric ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0))).join('  ')}`.trimEnd();
      lines.push(fmt(b.columns.map((c) => c.heading)));
      for (const r of b.rows) lines.push(fmt(r));
    }
  }
  return lines;
}
