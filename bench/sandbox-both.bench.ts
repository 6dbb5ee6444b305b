/**
 * Starting `sandbox --crm both --size medium` (seed 42, anchor 2026-11-15: 500 reps, 100,000 deals split across
 * Salesforce and HubSpot): generating the org, splitting it, populating the Salesforce store with its half and the
 * HubSpot store with the other, and writing the org.csv: everything the command does before it listens. Target:
 * under 15 s of CPU (`process.cpuUsage()`, user + system). One run: a run costs several seconds.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { populateHubSpot } from '../src/sandbox/hubspot/populate.ts';
import { HubSpotStore } from '../src/sandbox/hubspot/store.ts';
import { generateOrg } from '../src/sandbox/org/index.ts';
import { writeOrgCsv } from '../src/sandbox/org/org-csv.ts';
import { splitOrg } from '../src/sandbox/org/split.ts';
import { populateSalesforce } from '../src/sandbox/salesforce/populate.ts';
import { SalesforceStore } from '../src/sandbox/salesforce/store.ts';

const TARGET_CPU_S = 15;
const SEED = 42;
const ANCHOR = '2026-11-15';

const cpuSeconds = (since: NodeJS.CpuUsage): number => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
};

export async function run(): Promise<{ name: string; ok: boolean; summary: string; metrics: Record<string, number> }> {
  const started = performance.now();
  let cpu = process.cpuUsage();
  const org = generateOrg({ seed: SEED, size: 'medium', anchorDate: ANCHOR });
  const { first, second } = splitOrg(org);
  const generateCpu = cpuSeconds(cpu);
  const now = new Date(`${ANCHOR}T12:00:00.000Z`);
  cpu = process.cpuUsage();
  const sf = new SalesforceStore({ seed: SEED, now });
  populateSalesforce(sf, first);
  const salesforceCpu = cpuSeconds(cpu);
  cpu = process.cpuUsage();
  const hs = new HubSpotStore({ seed: SEED, now, timezone: org.timezone, homeCurrency: org.corporateCurrency });
  populateHubSpot(hs, second);
  const hubspotCpu = cpuSeconds(cpu);
  cpu = process.cpuUsage();
  const dir = await mkdtemp(join(tmpdir(), 'qt-bench-'));
  await writeOrgCsv(org, join(dir, 'org.csv'));
  await rm(dir, { recursive: true, force: true });
  const csvCpu = cpuSeconds(cpu);
  const wallS = (performance.now() - started) / 1000;
  const total = generateCpu + salesforceCpu + hubspotCpu + csvCpu;
  const ratio = total / TARGET_CPU_S;
  const sfDeals = sf.count('Opportunity');
  const hsDeals = hs.count('deals');
  const ok = ratio < 1 && sfDeals + hsDeals === 100_000;
  return {
    name: 'sandbox --crm both --size medium: start',
    ok,
    summary: `${total.toFixed(1)} s CPU (generate + split ${generateCpu.toFixed(1)} s, Salesforce half ${salesforceCpu.toFixed(1)} s, HubSpot half ${hubspotCpu.toFixed(1)} s, org.csv ${csvCpu.toFixed(2)} s), ratio ${ratio.toFixed(2)} to the ${TARGET_CPU_S} s target; ${sfDeals} + ${hsDeals} deals; ${wallS.toFixed(1)} s wall`,
    metrics: {
      cpu_s: total,
      generate_cpu_s: generateCpu,
      salesforce_cpu_s: salesforceCpu,
      hubspot_cpu_s: hubspotCpu,
      wall_s: wallS,
      ratio,
      sf_deals: sfDeals,
      hs_deals: hsDeals,
    },
  };
}
