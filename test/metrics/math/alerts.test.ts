/** The rule predicates with their thresholds and hysteresis margins. */
import { describe, expect, it } from 'vitest';
import {
  acceleratorOpportunity,
  activityDropRule,
  alertKey,
  atRiskRep,
  conversionDecline,
  coverageGap,
  paceDeterioration,
  shouldEscalate,
  velocitySlowdown,
} from '../../../src/metrics/math/alerts.ts';
import { none, some } from '../../../src/metrics/math/types.ts';
import { d } from './fixtures.ts';

const v = (x: string | number) => some(d(x));

describe('at_risk_rep', () => {
  it('opens under 70% projected and is critical under 50%', () => {
    expect(atRiskRep(v('0.69'), false)).toMatchObject({
      firing: true,
      severity: 'warning',
      message: 'Projected attainment is 69.0%, under 70.0% of quota.',
    });
    expect(atRiskRep(v('0.45'), false).severity).toBe('critical');
    expect(atRiskRep(v('0.70'), false).firing).toBe(false);
  });
  it('once open, stays open until clearly back: 72% keeps it, 75% resolves it', () => {
    expect(atRiskRep(v('0.72'), true).firing).toBe(true);
    expect(atRiskRep(v('0.75'), true).firing).toBe(false);
    expect(atRiskRep(v('0.72'), false).firing).toBe(false);
  });
  it('stays quiet without a projection', () => {
    expect(atRiskRep(none('no_quota'), true).firing).toBe(false);
  });
});

describe('pace_deterioration', () => {
  it('opens when the pace index fell 10 points or more in 7 days, holds to 7, resolves under', () => {
    expect(paceDeterioration(v('0.95'), v('1.08'), false)).toMatchObject({ firing: true, severity: 'warning' });
    expect(paceDeterioration(v('0.99'), v('1.08'), false).firing).toBe(false); // 9 points
    expect(paceDeterioration(v('1.00'), v('1.08'), true).firing).toBe(true); // 8 points, open
    expect(paceDeterioration(v('1.02'), v('1.08'), true).firing).toBe(false); // 6 points
  });
});

describe('activity_drop', () => {
  it('opens on a score under 60 or a 30% drop; both make it critical', () => {
    expect(activityDropRule(v(55), v('0.1'), false)).toMatchObject({
      firing: true,
      severity: 'warning',
      message: 'Activity score is 55.',
    });
    expect(activityDropRule(v(70), v('0.35'), false)).toMatchObject({
      firing: true,
      message: 'The last 14 days are down 35.0% on the prior 4 weeks.',
    });
    expect(activityDropRule(v(55), v('0.35'), false).severity).toBe('critical');
    expect(activityDropRule(v(62), v('0.28'), false).firing).toBe(false);
    expect(activityDropRule(v(62), v('0.1'), true).firing).toBe(true); // under 60 + 5
    expect(activityDropRule(v(65), v('0.1'), true).firing).toBe(false);
  });
});

describe('coverage_gap', () => {
  it('is critical under 1.5 and a warning under 2.5 with more than 14 days left', () => {
    expect(coverageGap(v('1.2'), 20, false)).toMatchObject({ firing: true, severity: 'critical' });
    expect(coverageGap(v('2.0'), 20, false)).toMatchObject({ firing: true, severity: 'warning' });
    expect(coverageGap(v('2.5'), 20, false).firing).toBe(false);
    expect(coverageGap(v('1.2'), 14, false).firing).toBe(false);
    expect(coverageGap(none('quota_met'), 20, true).firing).toBe(false);
  });
  it('holds an open alert until 2.7', () => {
    expect(coverageGap(v('2.6'), 20, true).firing).toBe(true);
    expect(coverageGap(v('2.7'), 20, true).firing).toBe(false);
  });
});

describe('conversion_decline and velocity_slowdown', () => {
  it('fires when the 90-day win rate is 10 points or more under the 90 days before', () => {
    expect(conversionDecline(v('0.40'), v('0.52'), false).firing).toBe(true);
    expect(conversionDecline(v('0.45'), v('0.52'), false).firing).toBe(false);
    expect(conversionDecline(v('0.44'), v('0.52'), true).firing).toBe(true); // 8 >= 10 - 3
  });
  it('fires when the cycle is 15% or more longer: 80 against 68 is 17.6%, 75 is 10.3%', () => {
    expect(velocitySlowdown(v(80), v(68), false)).toMatchObject({
      firing: true,
      message: 'Sales cycle is 17.6% longer: 80.0 days against 68.0.',
    });
    expect(velocitySlowdown(v(75), v(68), false).firing).toBe(false);
    expect(velocitySlowdown(v(75), v(68), true).firing).toBe(true); // 10.3% >= 15% - 5%
  });
});

describe('accelerator_opportunity', () => {
  const tier = { from: d('1.0'), bookingsToReach: d(30_000) };
  it('fires within 10 points of the next tier when weighted pipeline covers the gap', () => {
    expect(acceleratorOpportunity(v('0.95'), tier, d(40_000), false)).toMatchObject({
      firing: true,
      severity: 'info',
      message:
        'Projected attainment 95.0% is 5.0 points under the 100.0% tier, and weighted pipeline covers the 30,000.00 still needed.',
    });
    expect(acceleratorOpportunity(v('0.95'), tier, d(20_000), false).firing).toBe(false);
    expect(acceleratorOpportunity(v('0.85'), tier, d(40_000), false).firing).toBe(false);
    expect(acceleratorOpportunity(v('1.05'), tier, d(40_000), false).firing).toBe(false);
    expect(acceleratorOpportunity(v('0.89'), tier, d(40_000), true).firing).toBe(true); // 11 points, open
  });
});

describe('lifecycle', () => {
  it('keys an alert by rule, subject and period', () => {
    expect(alertKey('coverage_gap', 'rep-sarah', 'FY2026-Q2')).toBe('coverage_gap:rep-sarah:FY2026-Q2');
  });
  it('escalates once: on a rise in severity or after 7 days open', () => {
    const base = { openedOn: '2026-06-01', severityAtOpen: 'warning' as const, alreadyEscalated: false };
    expect(shouldEscalate({ ...base, asOf: '2026-06-03', severityNow: 'critical' })).toBe(true);
    expect(shouldEscalate({ ...base, asOf: '2026-06-07', severityNow: 'warning' })).toBe(false);
    expect(shouldEscalate({ ...base, asOf: '2026-06-08', severityNow: 'warning' })).toBe(true);
    expect(shouldEscalate({ ...base, asOf: '2026-06-08', severityNow: 'critical', alreadyEscalated: true })).toBe(
      false,
    );
  });
});
