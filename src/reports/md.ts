/**
 * The report as GitHub-flavoured Markdown, for pasting into Slack, Notion or a wiki: a `#` title, a `##` heading
 * per section, tables for figures and for lists. Values are the text format's (same helpers, same words).
 */
import type { JsonObject } from '../metrics/document.ts';
import { type Block, reportLayout } from './layout.ts';

/**
 * Names come from the CRM: a `|` would split a table cell, `*`, `_` and backticks would turn into emphasis or
 * code, `<` into HTML, `[` into a link, and an entity like `&lt;` would be decoded; a line break would end a row.
 */
export function escapeMarkdown(s: string): string {
  return s
    .replace(/\r?\n|\r/g, ' ')
    .replace(/[\\`*_|[\]<>]/g, '\\$&')
    .replace(/&(?=#?\w+;)/g, '\\&');
}

function tableRow(cells: readonly string[]): string {
  return `| ${cells.map((c) => escapeMarkdown(c)).join(' | ')} |`;
}

function block(b: Block): string[] {
  if (b.type === 'paragraph') return [escapeMarkdown(b.text)];
  if (b.type === 'svg') return [`_${escapeMarkdown(b.alt)} (the diagram is in --format html)_`];
  if (b.type === 'figures') return ['| Figure | Value |', '| --- | ---: |', ...b.rows.map((r) => tableRow(r))];
  return [
    tableRow(b.columns.map((c) => c.heading)),
    `| ${b.columns.map((c) => (c.numeric ? '---:' : '---')).join(' | ')} |`,
    ...b.rows.map((r) => tableRow(r)),
  ];
}

/** Markdown of any report document. */
export function reportMarkdown(kind: string, d: JsonObject): string {
  const layout = reportLayout(kind, d);
  const parts: string[][] = [[`# ${escapeMarkdown(layout.title)}`]];
  if (layout.context !== null) parts.push([escapeMarkdown(layout.context)]);
  for (const section of layout.sections) {
    parts.push([`## ${escapeMarkdown(section.heading)}`]);
    for (const b of section.blocks) parts.push(block(b));
  }
  return `${parts.map((p) => p.join('\n')).join('\n\n')}\n`;
}
