/** `--format`: one function from a report document to what the command prints. */
import { AppError } from '../errors.ts';
import type { JsonObject } from '../metrics/document.ts';
import { reportHtml } from './html.ts';
import { reportMarkdown } from './md.ts';
import { reportText } from './text.ts';

export const REPORT_FORMATS = ['text', 'md', 'json', 'csv', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** The document in a format other than csv (which the command owns, with its columns per kind). */
export function renderReport(format: string, kind: string, doc: JsonObject): string {
  switch (format) {
    case 'json':
      return JSON.stringify(doc, null, 2);
    case 'md':
      return reportMarkdown(kind, doc);
    case 'html':
      return reportHtml(kind, doc);
    case 'text':
      return reportText(kind, doc);
    default:
      throw new AppError('USAGE', `--format must be one of ${REPORT_FORMATS.join(', ')}, got "${format}"`, {
        where: '--format',
      });
  }
}
