/**
 * Markup of the dashboard pages: a tagged template that escapes every interpolated value (names come from the
 * CRM) unless it is markup made here, the page shell (navigation, the period and as-of filter, one stylesheet,
 * htmx and the table sorter from this origin), and the report layouts' blocks (src/reports/layout.ts) as cards, so
 * a page prints the same labels and values as `report ... --format html` from the same JSON document.
 */
import { escapeHtml, toneOf } from '../../reports/html.ts';
import type { Block, Section } from '../../reports/layout.ts';

/** Markup that is inserted as it is (made by `h` or by the SVG charts, which escape their own text). */
export class Markup {
  constructor(readonly html: string) {}
  toString(): string {
    return this.html;
  }
}

export type Part = Markup | string | number | null | undefined | false | readonly Part[];

function part(v: Part): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof Markup) return v.html;
  if (Array.isArray(v)) return v.map(part).join('');
  return escapeHtml(String(v));
}

/** `h\`<p>${name}</p>\``: strings and numbers escaped, Markup and arrays of it inserted. */
export function h(strings: TemplateStringsArray, ...values: Part[]): Markup {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += part(v) + (strings[i + 1] ?? '');
  });
  return new Markup(out);
}

/** SVG from src/reports/charts.ts (numbers and escaped text only). */
export function trusted(svg: string): Markup {
  return new Markup(svg);
}

/** A value's status class (`tone-good`, `tone-fair`, `tone-poor`) from its printed words, as the HTML reports do. */
export function toneClass(text: string): string {
  const tone = toneOf(text);
  return tone ? `tone-${tone}` : '';
}

export interface Tile {
  /** `data-figure` for tests and scripts: the JSON field the value prints. */
  key: string;
  label: string;
  value: string;
  /** A second line (e.g. `522,000.00 of 600,000.00`). */
  sub?: string;
  /** The words that pick the tile's colour (a status, a band); default the value. */
  tone?: string;
  /** Where this figure's working is shown (the rep scorecard's `?explain=<figure>`). */
  explain?: string;
  /** This tile's working is shown on the page (`#explain`). */
  explained?: boolean;
}

export function tiles(list: readonly Tile[]): Markup {
  return h`<div class="tiles">${list.map(
    (t) =>
      h`<div class="tile ${toneClass(t.tone ?? t.value)}${t.explained ? ' explained' : ''}" data-figure="${t.key}"${t.explained ? h` aria-describedby="explain-h"` : ''}><div class="tile-label">${t.label}</div><div class="tile-value">${t.value}</div>${t.sub ? h`<div class="tile-sub">${t.sub}</div>` : ''}${t.explain ? h`<a class="tile-explain" href="${t.explain}">explain<span class="sr-only"> ${t.label.toLowerCase()}</span></a>` : ''}</div>`,
  )}</div>`;
}

function cell(tag: 'th' | 'td', text: string, numeric: boolean, scope?: 'row' | 'col'): Markup {
  const tone = tag === 'td' ? toneClass(text) : '';
  const cls = [numeric ? 'num' : '', tone].filter(Boolean).join(' ');
  return h`<${new Markup(tag)}${scope ? h` scope="${scope}"` : ''}${cls ? h` class="${cls}"` : ''}>${text}</${new Markup(tag)}>`;
}

export interface TableOptions {
  sortable?: boolean;
  caption?: string;
  /** Links for the first column's cells (same order as the rows), e.g. a rep's scorecard. */
  links?: readonly (string | null)[];
}

/** A table of printed strings; sortable ones sort by clicking a heading (assets.ts), numbers as numbers. */
export function table(
  columns: readonly { heading: string; numeric: boolean }[],
  rows: readonly (readonly string[])[],
  o: TableOptions = {},
): Markup {
  const head = columns.map((c) =>
    o.sortable
      ? h`<th scope="col" class="${c.numeric ? 'num' : ''}" aria-sort="none"><button type="button" class="sort" data-numeric="${c.numeric ? '1' : '0'}">${c.heading}</button></th>`
      : cell('th', c.heading, c.numeric, 'col'),
  );
  const body = rows.map((r, ri) => {
    const link = o.links?.[ri];
    return h`<tr>${r.map((v, i) => {
      if (i === 0 && link) return h`<td><a href="${link}">${v}</a></td>`;
      return cell('td', v, columns[i]?.numeric ?? false);
    })}</tr>`;
  });
  return h`<div class="table-wrap"><table${o.sortable ? h` class="sortable"` : ''}>${o.caption ? h`<caption>${o.caption}</caption>` : ''}<thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

export function block(b: Block, o: TableOptions = {}): Markup {
  switch (b.type) {
    case 'paragraph':
      return h`<p>${b.text}</p>`;
    case 'svg':
      return h`<figure class="chart">${trusted(b.svg)}<figcaption>${b.alt}</figcaption></figure>`;
    case 'figures':
      return h`<table class="figures"><tbody>${b.rows.map(
        ([label, value]) => h`<tr>${cell('th', label, false, 'row')}${cell('td', value, true)}</tr>`,
      )}</tbody></table>`;
    case 'table':
      return table(b.columns, b.rows, o);
  }
}

/** A report layout's section as a card; `id` is the heading in lower case with dashes (for links and tests). */
export function card(s: Section, o: TableOptions & { wide?: boolean } = {}): Markup {
  const id = sectionId(s.heading);
  // A chart and its table side by side: the figure and the same numbers as text.
  const chart = s.blocks.some((b) => b.type === 'svg');
  return h`<section class="card${o.wide || s.blocks.some((b) => b.type === 'table' && b.columns.length > 4) ? ' wide' : ''}" id="${id}" aria-labelledby="${id}-h"><h2 id="${id}-h">${s.heading}</h2>${
    chart ? h`<div class="chart-pair">${s.blocks.map((b) => block(b, o))}</div>` : s.blocks.map((b) => block(b, o))
  }</section>`;
}

export function sectionId(heading: string): string {
  // Without a parenthesised tail (`Activity against targets (2026-05-14..2026-06-12)`), so the id stays put.
  return `s-${heading
    .replace(/ \(.*\)$/, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')}`;
}

export interface NavItem {
  href: string;
  label: string;
}

export interface ShellOptions {
  title: string;
  /** A line under the title (team, region, manager; period and date). */
  context?: string | null;
  nav: readonly NavItem[];
  /** The path being shown, to mark its navigation link. */
  current: string;
  who: string;
  /** The filter bar's values; null for pages without one. */
  /** The filter bar's values and the path it submits to (the page's own); null for pages without one. */
  filters: { action: string; period: string; asOf: string; hidden?: Record<string, string> } | null;
  body: Markup;
}

/** The whole page: one stylesheet, htmx and the sorter (scripts from this origin only: the CSP allows no inline). */
export function shell(o: ShellOptions): string {
  const filters = o.filters
    ? h`<form class="filters" method="get" action="${o.filters.action}" hx-get="${o.filters.action}" hx-target="main" hx-select="main" hx-swap="outerHTML" hx-push-url="true">
${Object.entries(o.filters.hidden ?? {}).map(([k, v]) => h`<input type="hidden" name="${k}" value="${v}">`)}
<label>Period <input name="period" value="${o.filters.period}" size="10"></label>
<label>As of <input type="date" name="asOf" value="${o.filters.asOf}"></label>
<button type="submit">Show</button></form>`
    : '';
  return `<!doctype html>\n${
    h`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} - quota-tracker</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/dashboard.css">
<script src="/assets/htmx.min.js" defer></script>
<script src="/assets/dashboard.js" defer></script>
</head><body>
<header class="top"><a class="brand" href="/">quota-tracker</a>
<nav aria-label="Pages"><ul>${o.nav.map(
      (n) =>
        h`<li><a href="${n.href}"${n.href.split('?')[0] === o.current ? h` aria-current="page"` : ''}>${n.label}</a></li>`,
    )}</ul></nav>
<a class="who" href="/login">${o.who}</a></header>
<main id="main"><div class="page-head"><div><h1>${o.title}</h1>${o.context ? h`<p class="context">${o.context}</p>` : ''}</div>${filters}</div>
${o.body}</main>
<footer><p>Figures as <code>report --format json</code> prints them; status bands as in the reports. <a href="/api/v1/openapi.json">API</a></p></footer>
</body></html>`.html
  }\n`;
}

/** An error as a page (403 out of scope, 404 unknown, 400 a bad parameter) with the error's one sentence. */
export function errorPage(title: string, message: string, nav: readonly NavItem[], who: string): string {
  return shell({
    title,
    nav,
    current: '',
    who,
    filters: null,
    body: h`<section class="card wide"><p role="alert">${message}</p><p><a href="/">Back to the overview</a></p></section>`,
  });
}
