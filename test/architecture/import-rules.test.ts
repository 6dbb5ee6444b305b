/**
 * The seams of docs/architecture.md, read from the source tree so they stay: a CRM is reached only through the
 * connector registry and the neutral types, and connectors know nothing of what runs after them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.tsx?$/.test(e.name) ? [p] : [];
  });
}

/** Static imports, re-exports and import() calls with a literal specifier. */
const IMPORT_RE = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;

function importsOf(text: string): string[] {
  return [...text.matchAll(IMPORT_RE)].map((m) => m[1]!);
}

interface Edge {
  /** The importing file, relative to src/. */
  from: string;
  /** The imported file relative to src/ for relative specifiers, else the package name. */
  to: string;
  specifier: string;
}

function edges(): Edge[] {
  return sourceFiles(SRC).flatMap((file) =>
    importsOf(readFileSync(file, 'utf8')).map((specifier) => ({
      from: relative(SRC, file),
      to: specifier.startsWith('.') ? relative(SRC, resolve(dirname(file), specifier)) : specifier,
      specifier,
    })),
  );
}

const show = (e: Edge) => `${e.from} imports ${e.specifier}`;

describe('import rules', () => {
  const all = edges();

  it('reads the imports of the tree (the rules below are not vacuous)', () => {
    expect(
      importsOf("import type { A } from './a.ts';\nexport { b } from '../b.ts';\nawait import('./c.ts');"),
    ).toEqual(['./a.ts', '../b.ts', './c.ts']);
    expect(all.filter((e) => e.to.startsWith('connectors/salesforce/')).length).toBeGreaterThan(10);
    expect(all.some((e) => e.from === 'connectors/registry.ts' && e.to === 'connectors/salesforce/index.ts')).toBe(
      true,
    );
  });

  it('nothing outside src/connectors/ imports a CRM folder: the rest reaches a CRM through the registry', () => {
    const crmFolders = ['connectors/salesforce/', 'connectors/hubspot/'];
    const offending = all.filter(
      (e) => !e.from.startsWith('connectors/') && crmFolders.some((f) => e.to.startsWith(f)),
    );
    expect(offending.map(show)).toEqual([]);
  });

  it('src/connectors/ imports nothing from sync, writeback, metrics or reports', () => {
    const later = ['sync/', 'writeback/', 'metrics/', 'reports/', 'jobs/', 'web/', 'cli/'];
    const offending = all.filter((e) => e.from.startsWith('connectors/') && later.some((f) => e.to.startsWith(f)));
    expect(offending.map(show)).toEqual([]);
  });

  it("metrics/ imports nothing from sync/ or reports/ (the figures document is metrics' own)", () => {
    const offending = all.filter(
      (e) => e.from.startsWith('metrics/') && ['sync/', 'reports/', 'writeback/'].some((f) => e.to.startsWith(f)),
    );
    expect(offending.map(show)).toEqual([]);
  });

  it('the dirty queue and the planning files belong to neither sync nor metrics', () => {
    const offending = all.filter(
      (e) =>
        (e.from.startsWith('dirty/') || e.from.startsWith('planning/')) &&
        ['sync/', 'metrics/', 'reports/', 'writeback/', 'connectors/'].some((f) => e.to.startsWith(f)),
    );
    expect(offending.map(show)).toEqual([]);
    expect(all.some((e) => e.from === 'sync/change-feed.ts' && e.to === 'dirty/queue.ts')).toBe(true);
    expect(all.some((e) => e.from === 'metrics/engine/engine.ts' && e.to === 'dirty/queue.ts')).toBe(true);
  });
});
