/**
 * The dashboard's static files, served from this origin (the CSP allows scripts from 'self' only): htmx from
 * node_modules at the exact version package.json pins, the one stylesheet and the table sorter. Public: a sign-in
 * page needs the stylesheet before anyone is signed in, and none of them holds data.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { RouteModule } from '../policy.ts';

/** Status colours as the HTML reports print them (reports/html.ts), bands as charts.ts draws them. */
export const DASHBOARD_CSS = `
:root{--fg:#1f2328;--muted:#57606a;--line:#d0d7de;--bg:#f6f8fa;--card:#fff;--accent:#0969da}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--accent)}
header.top{display:flex;align-items:center;gap:1.5rem;padding:.6rem 1.5rem;background:#24292f;color:#fff}
header.top a{color:#fff;text-decoration:none}
.brand{font-weight:700;font-size:1.05rem}
header.top nav ul{display:flex;gap:1rem;list-style:none;margin:0;padding:0}
header.top nav a{padding:.3rem .5rem;border-radius:6px}
header.top nav a[aria-current=page],header.top nav a:hover{background:#424a53}
.who{margin-left:auto;font-size:.9rem;opacity:.9}
main{padding:1rem 1.5rem;display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:1rem;align-items:start}
main>.page-head,main>.tiles,main>.wide{grid-column:1/-1}
.page-head{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:flex-end;gap:1rem}
h1{font-size:1.45rem;margin:.2rem 0}
h2{font-size:1.05rem;margin:0 0 .6rem}
.context{margin:0;color:var(--muted)}
.filters{display:flex;gap:.6rem;align-items:flex-end;flex-wrap:wrap}
.filters label{display:flex;flex-direction:column;font-size:.8rem;color:var(--muted)}
.filters input,.filters select,.filters button{font:inherit;padding:.3rem .5rem;border:1px solid var(--line);border-radius:6px;background:#fff}
.filters button{background:var(--accent);color:#fff;border-color:var(--accent);cursor:pointer}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:.75rem}
.tile{background:var(--card);border:1px solid var(--line);border-left:6px solid var(--line);border-radius:8px;padding:.6rem .8rem}
.tile-label{font-size:.8rem;color:var(--muted);text-transform:uppercase;letter-spacing:.03em}
.tile-value{font-size:1.4rem;font-weight:600;font-variant-numeric:tabular-nums}
.tile-sub{font-size:.82rem;color:var(--muted)}
.tile-explain{font-size:.8rem}.tile.explained{outline:3px solid var(--line)}
.sr-only{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap;border:0}
.tile.tone-good{border-left-color:#1a7f37}.tile.tone-fair{border-left-color:#bf8700}.tile.tone-poor{border-left-color:#cf222e}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.9rem 1rem;min-width:0}
.chart-pair{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start}
figure.chart{margin:0;max-width:100%}
figure.chart svg{max-width:100%;height:auto}
figcaption{font-size:.8rem;color:var(--muted)}
.table-wrap{overflow:auto;max-width:100%}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid var(--line);padding:.3rem .55rem;text-align:left;vertical-align:top}
thead th{background:var(--bg);position:sticky;top:0;font-weight:600}
table.figures th{font-weight:normal;color:var(--muted);width:45%}
table.figures td.num{white-space:normal}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.tone-good{background:#dafbe1;color:#116329}.tone-fair{background:#fff8c5;color:#7d4e00}.tone-poor{background:#ffebe9;color:#a40e26}
.tile.tone-good,.tile.tone-fair,.tile.tone-poor{background:var(--card);color:var(--fg)}
button.sort{all:unset;cursor:pointer;font-weight:600}
button.sort:focus-visible{outline:2px solid var(--accent)}
th[aria-sort=ascending] button.sort::after{content:" \\25B2"}
th[aria-sort=descending] button.sort::after{content:" \\25BC"}
tr.pinned td{background:#ddf4ff;font-weight:600}
.pager{display:flex;gap:.5rem;align-items:center;margin-top:.6rem}
.pager a,.pager span{padding:.25rem .6rem;border:1px solid var(--line);border-radius:6px;text-decoration:none}
.pager [aria-disabled=true]{color:var(--muted)}
.htmx-request{opacity:.6;transition:opacity .2s}
footer{padding:0 1.5rem 1rem;color:var(--muted);font-size:.8rem}
.legend{display:flex;flex-wrap:wrap;gap:.4rem .9rem;font-size:.8rem;margin:.3rem 0}
.legend span::before{content:"";display:inline-block;width:.8em;height:.8em;margin-right:.3em;vertical-align:-.05em;background:var(--c)}
@media print{header.top,.filters,.pager{display:none}main{display:block}.card{break-inside:avoid;margin-bottom:1rem}}
`;

/**
 * Sorts a `table.sortable` by the clicked heading (numbers by value: `1,234.00`, `87.00%`, `#3`, `1.2x`; a cell
 * without a number after every number), toggling ascending and descending. Delegated from the document, so tables
 * htmx swaps in sort too.
 */
export const DASHBOARD_JS = `(function () {
  function key(text, numeric) {
    if (!numeric) return text.trim().toLowerCase();
    var m = text.replace(/,/g, '').match(/-?\\d+(\\.\\d+)?/);
    return m ? parseFloat(m[0]) : null;
  }
  document.addEventListener('click', function (e) {
    var button = e.target.closest && e.target.closest('button.sort');
    if (!button) return;
    var th = button.closest('th');
    var table = th.closest('table');
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var numeric = button.getAttribute('data-numeric') === '1';
    var dir = th.getAttribute('aria-sort') === 'ascending' ? 'descending' : 'ascending';
    table.querySelectorAll('thead th').forEach(function (h) { h.setAttribute('aria-sort', 'none'); });
    th.setAttribute('aria-sort', dir);
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[index].textContent, numeric);
      var y = key(b.cells[index].textContent, numeric);
      if (x === null && y === null) return 0;
      if (x === null) return 1;
      if (y === null) return -1;
      var c = x < y ? -1 : x > y ? 1 : 0;
      return dir === 'ascending' ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
})();
`;

/** The htmx package.json pins (exactly), read once. */
function htmxSource(): string {
  const require = createRequire(import.meta.url);
  return readFileSync(require.resolve('htmx.org/dist/htmx.min.js'), 'utf8');
}

export const assetRoutes: RouteModule = (r) => {
  let htmx: string | undefined;
  const cache = 'public, max-age=3600';
  r.route({
    method: 'GET',
    path: '/assets/htmx.min.js',
    policy: 'public',
    doc: { summary: 'htmx, as installed from npm (the version package.json pins).', produces: 'text/javascript' },
    handler: (c) => {
      htmx ??= htmxSource();
      return c.body(htmx, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': cache });
    },
  });
  r.route({
    method: 'GET',
    path: '/assets/dashboard.js',
    policy: 'public',
    doc: { summary: "The dashboard's table sorter.", produces: 'text/javascript' },
    handler: (c) =>
      c.body(DASHBOARD_JS, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': cache }),
  });
  r.route({
    method: 'GET',
    path: '/assets/dashboard.css',
    policy: 'public',
    doc: { summary: "The dashboard's stylesheet.", produces: 'text/css' },
    handler: (c) => c.body(DASHBOARD_CSS, 200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': cache }),
  });
};
