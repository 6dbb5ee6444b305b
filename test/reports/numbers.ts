/** Numbers of report documents, for checking that a text report prints nothing the JSON does not say. */

/** Every number in a JSON value, as the strings a text report may print for it. */
export function jsonNumbers(v: unknown, out = new Set<string>()): Set<string> {
  if (typeof v === 'number') out.add(String(v));
  else if (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)) {
    out.add(v.replace(/^-/, ''));
    // A four-place ratio prints as a percent: 0.8700 -> 87.00.
    if (/^-?\d+\.\d{4}$/.test(v)) out.add((Number(v.replace(/^-/, '')) * 100).toFixed(2));
  } else if (typeof v === 'string') for (const m of v.matchAll(/\d+(?:\.\d+)?/g)) out.add(m[0]);
  else if (Array.isArray(v)) for (const x of v) jsonNumbers(x, out);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) jsonNumbers(x, out);
  return out;
}

/** The figures a text report prints (thousands separators and signs dropped), labels with digits left out. */
export function textNumbers(text: string): string[] {
  return (
    text
      .replace(/FY\d{4}-[QM]\d+/g, '')
      .replace(/P\d0/g, '')
      .replace(/\d{4}-\d{2}-\d{2}/g, '')
      .match(/-?[\d,]+(?:\.\d+)?/g)
      ?.map((n) => n.replace(/,/g, '').replace(/^-/, ''))
      .filter((n) => n !== '') ?? []
  );
}

/** What a reader of an HTML report sees: the text of the page without its style, tags and entities. */
export function htmlText(html: string): string {
  return (
    html
      .replace(/<style>[\s\S]*?<\/style>/g, ' ')
      // A chart is a picture: its axis labels are rounded, and the table beside it carries its figures.
      .replace(/<svg[\s\S]*?<\/svg>/g, ' ')
      .replace(/<[^>]*>/g, ' ')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&amp;/g, '&')
  );
}
