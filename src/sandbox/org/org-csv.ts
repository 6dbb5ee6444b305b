/**
 * The `org.csv` that matches a generated org: who reports to whom, teams and regions, start dates, territories and
 * who carries quota. A CRM without a manager field (HubSpot) gets its hierarchy from this file, so the sandbox
 * writes the one that matches the org it serves. A region's director sits in a `<region> Leadership` team of that
 * region (a team belongs to one region), the VP in `Sales Leadership` of region `Global`; the admin is left out.
 */
import { writeFile } from 'node:fs/promises';
import type { OrgModel } from './model.ts';

function cell(v: string): string {
  return /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function orgCsv(org: OrgModel): string {
  const teams = new Map(org.teams.map((t) => [t.key, t]));
  const regions = new Map(org.regions.map((r) => [r.key, r]));
  const people = new Map(org.people.map((p) => [p.key, p]));
  const lines = ['email,name,team,region,manager_email,role,start_date,territory,quota_carrying'];
  for (const p of org.people) {
    if (p.role === 'admin') continue;
    const region = p.regionKey ? (regions.get(p.regionKey)?.name ?? 'Global') : 'Global';
    const team = p.teamKey
      ? (teams.get(p.teamKey)?.name ?? 'Sales Leadership')
      : p.regionKey
        ? `${region} Leadership`
        : 'Sales Leadership';
    const manager = p.managerKey ? (people.get(p.managerKey)?.email.toLowerCase() ?? '') : '';
    lines.push(
      [
        p.email.toLowerCase(),
        p.name,
        team,
        region,
        manager,
        p.role,
        p.startDate,
        p.territory ?? '',
        String(p.quotaCarrying),
      ]
        .map(cell)
        .join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

export async function writeOrgCsv(org: OrgModel, path: string): Promise<void> {
  await writeFile(path, orgCsv(org), 'utf8');
}
