/**
 * The RevOps org file (`org.csv`): who reports to whom, which team and region each person is in, and the facts a
 * CRM may lack (HubSpot has no manager field; start dates and territory indexes often live nowhere else). Where
 * the file and the CRM both say something, the file wins, so it is validated strictly: every problem names the
 * file, line and column.
 *
 * Columns: `email,name,team,region,manager_email,role` and optionally `start_date,territory,territory_index,
 * quota_carrying,salesforce_user_id,hubspot_owner_id`, in any order, header names case-insensitive. The last two
 * bind a person whose email differs from one CRM to the other: the CRM user with that id is this row's person,
 * whatever email the CRM gives it.
 */
import { readFile } from 'node:fs/promises';
import type { Decimal } from 'decimal.js';
import { AppError } from '../errors.ts';
import { isPlainDate, type PlainDate } from '../util/date.ts';
import { Dec } from '../util/money.ts';
import { type CsvField, type CsvRecord, headerIndex, parseCsv } from './csv.ts';

export interface OrgRow {
  /** Lower-cased; the join key to CRM users. */
  readonly email: string;
  readonly name: string;
  readonly team: string;
  readonly region: string;
  /** Lower-cased, or null for the top of the tree. */
  readonly managerEmail: string | null;
  /** Lower-cased role as RevOps names it (rep, manager, director, ...). */
  readonly role: string;
  readonly startDate: PlainDate | null;
  readonly territory: string | null;
  /** Territory difficulty index (mean 1.0 over the org); null when the file does not give one. */
  readonly territoryIndex: Decimal | null;
  /** Null when the file does not say, so the CRM or the role decides. */
  readonly quotaCarrying: boolean | null;
  /** The Salesforce User id (15 or 18 characters) that is this person whatever its email; null: matched by email. */
  readonly salesforceUserId: string | null;
  /** The HubSpot owner id that is this person whatever its email; null: matched by email. */
  readonly hubspotOwnerId: string | null;
  /** Line of the row in the file, for messages about it later. */
  readonly line: number;
}

export interface OrgFile {
  readonly path: string;
  readonly rows: readonly OrgRow[];
  readonly byEmail: ReadonlyMap<string, OrgRow>;
}

const REQUIRED = ['email', 'name', 'team', 'region', 'manager_email', 'role'] as const;
const OPTIONAL = [
  'start_date',
  'territory',
  'territory_index',
  'quota_carrying',
  'salesforce_user_id',
  'hubspot_owner_id',
] as const;
/** The CRM id columns, each naming one user of its CRM: an id on two rows would make one user two people. */
const BINDINGS = [
  ['salesforce_user_id', 'salesforceUserId'],
  ['hubspot_owner_id', 'hubspotOwnerId'],
] as const;
type Column = (typeof REQUIRED)[number] | (typeof OPTIONAL)[number];

const EMAIL_RE = /^[^\s@,;<>"]+@[^\s@,;<>"]+\.[^\s@,;<>"]+$/;
const TRUE_VALUES = new Set(['true', 'yes', 'y', '1']);
const FALSE_VALUES = new Set(['false', 'no', 'n', '0']);

/** Reads and validates an org file. */
export async function loadOrgFile(path: string): Promise<OrgFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new AppError('ORG_FILE_INVALID', `cannot read the org file ${path}: ${(cause as Error).message}`, {
      where: path,
      cause,
    });
  }
  return parseOrgFile(text, path);
}

/**
 * Validates org file text; `file` is the name used in messages. All problems are collected: the error's message
 * and `where` (`file:line:column`) are the first one's, `details.problems` lists them all.
 */
export function parseOrgFile(text: string, file: string): OrgFile {
  const records = parseCsv(text, file, 'ORG_FILE_INVALID');
  const [header, ...body] = records;
  if (!header) throw new AppError('ORG_FILE_INVALID', `${file} is empty; expected a header row`, { where: file });
  const index = headerIndex(header, REQUIRED, OPTIONAL, file, 'ORG_FILE_INVALID');
  const problems: { where: string; message: string }[] = [];
  const problem = (line: number, column: number, message: string) =>
    problems.push({ where: `${file}:${line}:${column}`, message });

  const rows: OrgRow[] = [];
  const recordOf = new Map<OrgRow, CsvRecord>();
  for (const record of body) {
    const row = parseRow(record, index, header, problem);
    if (row) {
      rows.push(row);
      recordOf.set(row, record);
    }
  }
  /** Reports a problem at the field `name` of a row that parsed. */
  const problemAt = (row: OrgRow, name: Column, message: string) => {
    const f = (recordOf.get(row) as CsvRecord).fields[index.get(name) as number] as CsvField;
    problem(f.line, f.column, message);
  };

  const byEmail = new Map<string, OrgRow>();
  for (const row of rows) {
    const first = byEmail.get(row.email);
    if (first) problemAt(row, 'email', `duplicate email ${row.email} (first on line ${first.line})`);
    else byEmail.set(row.email, row);
  }

  for (const [column, key] of BINDINGS) {
    const byId = new Map<string, OrgRow>();
    for (const row of rows) {
      const id = row[key];
      if (id === null) continue;
      // Salesforce's 18-character id is the 15-character one with a checksum: both name the same user.
      const norm = key === 'salesforceUserId' ? id.slice(0, 15) : id;
      const first = byId.get(norm);
      if (first) problemAt(row, column, `${column} ${id} is bound to ${first.email} already (line ${first.line})`);
      else byId.set(norm, row);
    }
  }

  const regionOfTeam = new Map<string, OrgRow>();
  for (const row of rows) {
    const first = regionOfTeam.get(row.team);
    if (!first) regionOfTeam.set(row.team, row);
    else if (first.region !== row.region) {
      problemAt(
        row,
        'region',
        `team "${row.team}" is in region "${row.region}" here but in "${first.region}" on line ${first.line}; a team belongs to one region`,
      );
    }
  }

  for (const row of rows) {
    if (row.managerEmail !== null && !byEmail.has(row.managerEmail)) {
      problemAt(row, 'manager_email', `manager ${row.managerEmail} of ${row.email} is not in the file`);
    }
  }

  for (const cycle of managerCycles(byEmail)) {
    const at = byEmail.get(cycle[0] as string) as OrgRow;
    problemAt(at, 'manager_email', `the manager chain loops: ${[...cycle, cycle[0]].join(' -> ')}`);
  }

  if (problems.length > 0) {
    const [first] = problems as [{ where: string; message: string }];
    const more =
      problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
    throw new AppError('ORG_FILE_INVALID', `${first.message}${more}`, {
      where: first.where,
      details: { problems: problems.map((p) => `${p.where}: ${p.message}`) },
    });
  }
  return { path: file, rows, byEmail };
}

function parseRow(
  record: CsvRecord,
  index: Map<string, number>,
  header: CsvRecord,
  problem: (line: number, column: number, message: string) => void,
): OrgRow | null {
  if (record.fields.length !== header.fields.length) {
    problem(
      record.line,
      1,
      `expected ${header.fields.length} fields like the header, found ${record.fields.length} (quote a value that contains a comma)`,
    );
    return null;
  }
  let ok = true;
  const field = (name: Column): CsvField | undefined => {
    const i = index.get(name);
    return i === undefined ? undefined : record.fields[i];
  };
  const text = (name: Column): string => field(name)?.value.trim() ?? '';
  const bad = (name: Column, message: string) => {
    const f = field(name);
    problem(f?.line ?? record.line, f?.column ?? 1, message);
    ok = false;
  };
  const required = (name: Column): string => {
    const v = text(name);
    if (v === '') bad(name, `${name} is empty`);
    return v;
  };

  const email = required('email').toLowerCase();
  if (email !== '' && !EMAIL_RE.test(email)) bad('email', `"${email}" is not an email address`);
  const name = required('name');
  const team = required('team');
  const region = required('region');
  const role = required('role').toLowerCase();
  const managerRaw = text('manager_email').toLowerCase();
  if (managerRaw !== '' && !EMAIL_RE.test(managerRaw)) bad('manager_email', `"${managerRaw}" is not an email address`);
  if (managerRaw !== '' && managerRaw === email) bad('manager_email', `${email} is listed as their own manager`);

  const startRaw = text('start_date');
  if (startRaw !== '' && !isPlainDate(startRaw))
    bad('start_date', `start_date "${startRaw}" is not a date as YYYY-MM-DD`);

  const tiRaw = text('territory_index');
  let territoryIndex: Decimal | null = null;
  if (tiRaw !== '') {
    if (!/^\d+(\.\d+)?$/.test(tiRaw) || new Dec(tiRaw).lte(0)) {
      bad('territory_index', `territory_index "${tiRaw}" is not a positive number like 1.15`);
    } else territoryIndex = new Dec(tiRaw);
  }

  const qcRaw = text('quota_carrying').toLowerCase();
  let quotaCarrying: boolean | null = null;
  if (qcRaw !== '') {
    if (TRUE_VALUES.has(qcRaw)) quotaCarrying = true;
    else if (FALSE_VALUES.has(qcRaw)) quotaCarrying = false;
    else bad('quota_carrying', `quota_carrying "${qcRaw}" is not true or false`);
  }

  const sfId = text('salesforce_user_id');
  if (sfId !== '' && !/^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$/.test(sfId))
    bad('salesforce_user_id', `salesforce_user_id "${sfId}" is not a Salesforce user id (15 or 18 letters and digits)`);
  const hsId = text('hubspot_owner_id');
  if (hsId !== '' && !/^\d+$/.test(hsId))
    bad('hubspot_owner_id', `hubspot_owner_id "${hsId}" is not a HubSpot owner id (digits)`);

  if (!ok) return null;
  return {
    email,
    name,
    team,
    region,
    managerEmail: managerRaw === '' ? null : managerRaw,
    role,
    startDate: startRaw === '' ? null : startRaw,
    territory: text('territory') || null,
    territoryIndex,
    quotaCarrying,
    salesforceUserId: sfId === '' ? null : sfId,
    hubspotOwnerId: hsId === '' ? null : hsId,
    line: record.line,
  };
}

/** Each loop in the manager chain once, as the emails in it starting from the one on the earliest line. */
function managerCycles(byEmail: ReadonlyMap<string, OrgRow>): string[][] {
  const state = new Map<string, 'walking' | 'done'>();
  const cycles: string[][] = [];
  for (const start of byEmail.keys()) {
    const path: string[] = [];
    let cur: string | null = start;
    while (cur !== null && byEmail.has(cur) && state.get(cur) !== 'done') {
      if (state.get(cur) === 'walking') {
        const loop = path.slice(path.indexOf(cur));
        // Self-management is reported on its own row already.
        if (loop.length > 1) {
          const lines = loop.map((e) => byEmail.get(e)?.line ?? 0);
          const first = lines.indexOf(Math.min(...lines));
          cycles.push([...loop.slice(first), ...loop.slice(0, first)]);
        }
        break;
      }
      state.set(cur, 'walking');
      path.push(cur);
      cur = byEmail.get(cur)?.managerEmail ?? null;
    }
    for (const e of path) state.set(e, 'done');
  }
  return cycles;
}
