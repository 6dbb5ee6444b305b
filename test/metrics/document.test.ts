/**
 * The figures document read back from the database: what the engine stores reads as the type write-back and
 * reports use; a document stored before the calibrated forecast still reads; one that does not fit is a clear
 * SNAPSHOT_INVALID naming the snapshot and the field.
 */
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.ts';
import { parseFiguresDocument } from '../../src/metrics/document.ts';
import { forecastBasisLine } from '../../src/metrics/forecast-basis.ts';
import { valuesFromSnapshot } from '../../src/writeback/values.ts';
import { sampleFigures } from '../helpers/figures.ts';

const stored = (doc: unknown): unknown => JSON.parse(JSON.stringify(doc));

function failure(value: unknown): AppError {
  try {
    parseFiguresDocument(value, 'rep person:1 in FY2026-Q4');
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error('expected SNAPSHOT_INVALID');
}

describe('parseFiguresDocument', () => {
  it('reads a stored document as the write-back values it holds', () => {
    const doc = parseFiguresDocument(stored(sampleFigures()), 'rep person:1 in FY2026-Q4');
    expect(valuesFromSnapshot(doc, 3)).toEqual({
      attainment: '0.5000',
      pace: '1.0000',
      projectedAttainment: '1.0000',
      status: 'on_track',
      coverage: '3.6000',
      rank: 3,
    });
  });

  it('reads a document stored before the calibrated forecast (no forecast.calibration)', () => {
    const old = stored(sampleFigures()) as { forecast: Record<string, unknown> };
    delete old.forecast.calibration;
    const doc = parseFiguresDocument(old, 'rep person:1 in FY2026-Q4');
    expect(doc.forecast.p50).toBe('500000.00');
    expect(forecastBasisLine(doc.forecast.calibration)).toBe(
      'not enough history to calibrate: CRM stage probabilities',
    );
  });

  it('a missing figure without its reason names the snapshot and the field', () => {
    const doc = stored(sampleFigures()) as Record<string, unknown>;
    doc.attainment = null;
    const e = failure(doc);
    expect(e.code).toBe('SNAPSHOT_INVALID');
    expect(e.message).toBe(
      'the stored figures of rep person:1 in FY2026-Q4 cannot be read (attainment: expected a string, or null beside attainmentReason; got null); `quota-tracker recompute` writes them again',
    );
  });

  it('a nested field of the wrong type, an unknown status and a non-object are named', () => {
    const coverage = stored(sampleFigures()) as { pipeline: Record<string, unknown> };
    coverage.pipeline.coverage = 3.6;
    expect(failure(coverage).message).toContain(
      '(pipeline.coverage: expected a string, or null beside pipeline.coverageReason; got number 3.6)',
    );
    const status = stored(sampleFigures()) as Record<string, unknown>;
    status.status = 'great';
    expect(failure(status).message).toContain(
      '(status: expected one of on_track, likely_to_hit, at_risk, likely_miss, significant_gap, major_gap, or null beside statusReason; got string "great")',
    );
    expect(failure('[]').message).toContain('(the document: expected an object, got string "[]")');
  });
});
