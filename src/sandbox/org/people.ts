/**
 * The org chart: regions, teams, their managers and reps, with start dates, ramping hires, one rep who moved
 * team in the current quarter and one who left. Reps' latent traits (performance, skill, effort) are drawn here
 * and drive everything the later steps generate for them.
 */
import { minDate, type PlainDate } from '../../util/date.ts';
import type { Person, PersonRole, Region, Segment, Team } from './model.ts';
import { FIRST_NAMES, LAST_NAMES } from './names.ts';
import type { Rng } from './random.ts';
import { daysBetween, plusDays, quarterOf, workInstant } from './time.ts';

export interface TeamPlan {
  name: string;
  segment: Segment;
  currency: string;
}

export interface RegionPlan {
  name: string;
  teams: TeamPlan[];
}

export interface OrgChart {
  regions: Region[];
  teams: Team[];
  people: Person[];
  /** Keys of the generator's special cases, so later steps and tests can find them. */
  moverKey: string;
  leaverKey: string;
  rampingKeys: string[];
  /** The rep whose activity drops in the last two weeks. */
  slackerKey: string;
}

export interface ChartOptions {
  regions: RegionPlan[];
  repCount: number;
  /** Performance factors handed out to reps in order before random draws (the small demo's spread). */
  performanceSpread: number[] | null;
  rampingHires: number;
  emailDomain: string;
  /** The mover and the leaver (default true); the large org leaves them out, its oracle sums teams plainly. */
  specialCases?: boolean;
}

function slug(s: string): string {
  return s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z]/g, '')
    .toLowerCase();
}

export function generateChart(rng: Rng, anchor: PlainDate, opts: ChartOptions): OrgChart {
  const people: Person[] = [];
  const usedNames = new Set<string>();
  let personSeq = 0;

  const newPerson = (
    role: PersonRole,
    title: string,
    fields: Pick<Person, 'teamKey' | 'regionKey' | 'managerKey' | 'currency' | 'startDate'>,
  ): Person => {
    let first = rng.pick(FIRST_NAMES);
    let last = rng.pick(LAST_NAMES);
    for (let tries = 0; usedNames.has(`${first} ${last}`) && tries < 20; tries++) {
      first = rng.pick(FIRST_NAMES);
      last = rng.pick(LAST_NAMES);
    }
    personSeq++;
    // With 500 reps the name lists run out; a middle initial keeps names and emails unique.
    const name = usedNames.has(`${first} ${last}`)
      ? `${first} ${String.fromCharCode(65 + (personSeq % 26))}. ${last}`
      : `${first} ${last}`;
    usedNames.add(name);
    const local = `${slug(first)}.${slug(last)}${usedNames.size > 1 && name.includes('.') ? personSeq : ''}`;
    const email = `${local}@${opts.emailDomain}`;
    const p: Person = {
      key:
        role === 'rep' ? `rep-${String(personSeq).padStart(4, '0')}` : `${role}-${String(personSeq).padStart(4, '0')}`,
      firstName: first,
      lastName: last,
      name,
      email,
      username: `${email}.sandbox`,
      title,
      role,
      ...fields,
      endDate: null,
      isActive: true,
      territory: null,
      quotaCarrying: role === 'rep',
      teamHistory: [],
      traits: { performance: 0, skill: 0, effort: 0 },
      createdAt: workInstant(rng, plusDays(fields.startDate, -rng.int(3, 14)), anchor),
    };
    people.push(p);
    return p;
  };

  const veteranStart = (): PlainDate => plusDays(anchor, -rng.int(500, 2400));
  const admin = newPerson('admin', 'Salesforce Administrator', {
    teamKey: null,
    regionKey: null,
    managerKey: null,
    currency: 'USD',
    startDate: plusDays(anchor, -2600),
  });
  admin.quotaCarrying = false;
  const vp = newPerson('vp', 'VP of Sales', {
    teamKey: null,
    regionKey: null,
    managerKey: null,
    currency: 'USD',
    startDate: veteranStart(),
  });

  const regions: Region[] = [];
  const teams: Team[] = [];
  opts.regions.forEach((rp, ri) => {
    const regionKey = `region-${ri + 1}`;
    const director = newPerson('director', `Regional Director, ${rp.name}`, {
      teamKey: null,
      regionKey,
      managerKey: vp.key,
      currency: rp.teams[0]?.currency ?? 'USD',
      startDate: veteranStart(),
    });
    regions.push({ key: regionKey, name: rp.name, directorKey: director.key });
    for (const tp of rp.teams) {
      const teamKey = `team-${teams.length + 1}`;
      const manager = newPerson('manager', `Sales Manager, ${tp.name}`, {
        teamKey,
        regionKey,
        managerKey: director.key,
        currency: tp.currency,
        startDate: veteranStart(),
      });
      teams.push({
        key: teamKey,
        name: tp.name,
        regionKey,
        segment: tp.segment,
        managerKey: manager.key,
        currency: tp.currency,
      });
    }
  });

  const reps: Person[] = [];
  for (let i = 0; i < opts.repCount; i++) {
    const team = teams[i % teams.length] as Team;
    const rep = newPerson('rep', `${team.segment} Account Executive`, {
      teamKey: team.key,
      regionKey: team.regionKey,
      managerKey: team.managerKey,
      currency: team.currency,
      startDate: veteranStart(),
    });
    const region = regions.find((r) => r.key === team.regionKey) as Region;
    rep.territory = `${region.name} ${team.segment} ${Math.floor(i / teams.length) + 1}`;
    const spread = opts.performanceSpread?.[i];
    const performance = spread ?? Math.min(1.5, Math.max(0.35, rng.normal(0.9, 0.2)));
    rep.traits = {
      performance,
      skill: Math.min(1.8, Math.max(0.5, rng.logNormal(1, 0.2) * (0.8 + 0.2 * performance))),
      effort: Math.max(0.3, 0.55 + 0.45 * performance + rng.normal(0, 0.1)),
    };
    rep.teamHistory = [{ teamKey: team.key, from: rep.startDate, to: null }];
    reps.push(rep);
  }

  // Special cases are drawn from distinct reps by position, so small and medium orgs both have each exactly once.
  const order = rng.shuffle(reps.map((_, i) => i));
  const take = (): Person => reps[order.shift() as number] as Person;
  const current = quarterOf(anchor);

  const rampingKeys: string[] = [];
  for (let i = 0; i < opts.rampingHires; i++) {
    const r = take();
    r.startDate = plusDays(anchor, -rng.int(20, 110));
    r.createdAt = workInstant(rng, plusDays(r.startDate, -rng.int(3, 10)), anchor);
    r.teamHistory = [{ teamKey: r.teamKey as string, from: r.startDate, to: null }];
    r.title = `${r.title} (new hire)`;
    rampingKeys.push(r.key);
  }

  if (opts.specialCases === false) {
    const slacker = reps.reduce((lo, r) =>
      r.traits.performance < lo.traits.performance && !rampingKeys.includes(r.key) ? r : lo,
    );
    return { regions, teams, people, moverKey: '', leaverKey: '', rampingKeys, slackerKey: slacker.key };
  }
  // The mover changes team a few weeks into the current quarter, to another team of the same region.
  const mover = take();
  const fromTeam = teams.find((t) => t.key === mover.teamKey) as Team;
  const toTeam = teams.find((t) => t.regionKey === fromTeam.regionKey && t.key !== fromTeam.key) ?? fromTeam;
  const moveDate = plusDays(
    current.start,
    Math.min(rng.int(18, 30), Math.max(1, daysBetween(current.start, anchor) - 3)),
  );
  mover.teamHistory = [
    { teamKey: fromTeam.key, from: mover.startDate, to: moveDate },
    { teamKey: toTeam.key, from: moveDate, to: null },
  ];
  mover.teamKey = toTeam.key;
  mover.managerKey = toTeam.managerKey;
  mover.currency = toTeam.currency;
  mover.title = `${toTeam.segment} Account Executive`;

  // The leaver left during the current quarter and still owns open deals nobody reassigned.
  const leaver = take();
  leaver.endDate = minDate(plusDays(current.start, rng.int(5, 15)), plusDays(anchor, -1));
  leaver.isActive = false;
  (leaver.teamHistory[0] as { to: PlainDate | null }).to = leaver.endDate;

  const slacker = reps.reduce((lo, r) =>
    r.traits.performance < lo.traits.performance && r.isActive && !rampingKeys.includes(r.key) && r !== mover ? r : lo,
  );

  return { regions, teams, people, moverKey: mover.key, leaverKey: leaver.key, rampingKeys, slackerKey: slacker.key };
}
