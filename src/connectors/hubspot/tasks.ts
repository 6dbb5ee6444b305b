/**
 * Alert tasks in HubSpot: one task per alert and severity for the rep's manager (`hubspot_owner_id`), associated
 * with the most relevant deal (task -> deal, association type 216), carrying the unique task property
 * `quota_alert_key` (`dedupeKey:severity`), which the read side skips (activities.ts) and which finds a task made
 * before: a create is preceded by a search on the keys, so a delivery re-sent after a crash or a lost answer finds
 * the task instead of making a second one (the `alert_tasks` row is claimed before the call, src/writeback/).
 * Closing sets `hs_task_status: COMPLETED` (https://developers.hubspot.com/docs/api/crm/tasks).
 */

import { AppError, isAppError } from '../../errors.ts';
import type { Logger } from '../../util/log.ts';
import type { AlertTask, TaskSink } from '../types.ts';
import { ALERT_KEY_PROPERTY } from './activities.ts';
import type { HubSpotClient } from './client.ts';
import { HUBSPOT_PATHS } from './paths.ts';
import { HUBSPOT_BATCH } from './write.ts';

/** HubSpot's defined association type of a task to a deal. */
export const TASK_TO_DEAL = 216;

/** A task's key as the task property holds it: lower case (see `findTasks`). */
const stored = (key: string): string => key.toLowerCase();

export interface HubSpotTaskResult {
  externalKey: string;
  ok: boolean;
  crmTaskId?: string;
  created?: boolean;
  errorCode?: string;
  message?: string;
  retryable?: boolean;
}

/**
 * Makes the task property `quota_alert_key` when the portal lacks it: unique where the portal allows one, a plain
 * text property otherwise (the search before each create still finds a task made before). Returns what it made.
 */
export async function ensureAlertKeyProperty(client: HubSpotClient): Promise<string[]> {
  try {
    await client.get(HUBSPOT_PATHS.property('tasks', ALERT_KEY_PROPERTY));
    return [];
  } catch (e) {
    if (!isAppError(e) || (e.details as { status?: number } | undefined)?.status !== 404) throw e;
  }
  const groups = await client.get<{ results: Array<{ name: string }> }>(HUBSPOT_PATHS.propertyGroups('tasks'));
  let groupName = groups.results.find((g) => g.name === 'taskinformation')?.name ?? groups.results[0]?.name;
  const statusOf = (e: unknown) => (isAppError(e) ? (e.details as { status?: number } | undefined)?.status : undefined);
  if (!groupName) {
    groupName = 'quota_tracker';
    try {
      await client.post(HUBSPOT_PATHS.propertyGroups('tasks'), { name: groupName, label: 'Quota tracker' });
    } catch (e) {
      // Another setup made the group meanwhile: it is the same group.
      if (statusOf(e) !== 409) throw e;
    }
  }
  const def = { name: ALERT_KEY_PROPERTY, label: 'Quota alert key', type: 'string', fieldType: 'text', groupName };
  try {
    try {
      await client.post(HUBSPOT_PATHS.properties('tasks'), { ...def, hasUniqueValue: true });
      return [`task property ${ALERT_KEY_PROPERTY} (unique)`];
    } catch (e) {
      if (statusOf(e) !== 400) throw e;
      await client.post(HUBSPOT_PATHS.properties('tasks'), def);
      return [`task property ${ALERT_KEY_PROPERTY}`];
    }
  } catch (e) {
    // Another setup made it between the look and the create (409): theirs serves if it is a text property.
    if (statusOf(e) !== 409) throw e;
    const made = await client.get<{ type?: string }>(HUBSPOT_PATHS.property('tasks', ALERT_KEY_PROPERTY));
    if (made.type !== 'string') {
      throw new AppError(
        'CRM_FIELD_MISSING',
        `the task property ${ALERT_KEY_PROPERTY} was made meanwhile as a ${made.type} property; alert keys need a text (string) property: delete it in HubSpot and run \`quota-tracker setup hubspot\` again`,
        { where: `tasks.${ALERT_KEY_PROPERTY}` },
      );
    }
    return [];
  }
}

interface TaskAnswer {
  results?: Array<{ id: string; properties?: Record<string, string | null> }>;
  errors?: Array<{ category?: string; message?: string; context?: Record<string, unknown> }>;
}

/** Creates, finds and closes alert tasks through one HubSpot connection. */
export class HubSpotTaskWriter implements TaskSink {
  private ensured = false;

  constructor(
    private readonly client: HubSpotClient,
    private readonly log: Logger,
  ) {}

  apiCalls(): number {
    return this.client.apiCalls();
  }

  private async ensure(): Promise<void> {
    if (this.ensured) return;
    for (const line of await ensureAlertKeyProperty(this.client)) this.log.info({}, `hubspot setup: created ${line}`);
    this.ensured = true;
  }

  /** Existing tasks carrying these keys, key -> task id: a search, 100 keys a filter. */
  async findTasks(keys: readonly string[]): Promise<Map<string, string>> {
    await this.ensure();
    const out = new Map<string, string>();
    // Keys are written and searched lower-cased (`stored`): the search's IN compares string values as HubSpot
    // indexes them, and a key's case must not decide whether a task is found.
    const asked = new Map(keys.map((k) => [stored(k), k]));
    const all = [...asked.keys()];
    for (let i = 0; i < all.length; i += 100) {
      const chunk = all.slice(i, i + 100);
      let after: string | undefined;
      do {
        const page = await this.client.post<{
          results: Array<{ id: string; properties?: Record<string, string | null> }>;
          paging?: { next?: { after?: string } };
        }>(HUBSPOT_PATHS.search('tasks'), {
          filterGroups: [{ filters: [{ propertyName: ALERT_KEY_PROPERTY, operator: 'IN', values: chunk }] }],
          properties: [ALERT_KEY_PROPERTY],
          limit: 100,
          ...(after ? { after } : {}),
        });
        for (const r of page.results) {
          const v = r.properties?.[ALERT_KEY_PROPERTY];
          const k = v ? asked.get(stored(v)) : undefined;
          if (k && !out.has(k)) out.set(k, r.id);
        }
        after = page.paging?.next?.after;
      } while (after);
    }
    return out;
  }

  /** Creates the tasks not made yet; a task found by its key is answered as it is (created: false). */
  async upsertTasks(tasks: readonly AlertTask[]): Promise<HubSpotTaskResult[]> {
    const found = await this.findTasks(tasks.map((t) => t.externalKey));
    const results = new Map<string, HubSpotTaskResult>();
    for (const t of tasks) {
      const id = found.get(t.externalKey);
      if (id) results.set(t.externalKey, { externalKey: t.externalKey, ok: true, crmTaskId: id, created: false });
    }
    const todo = tasks.filter((t) => !found.has(t.externalKey));
    const send = async (batch: readonly AlertTask[]): Promise<void> => {
      let answer: TaskAnswer;
      try {
        // Never re-sent by the client after an attempt that may have landed: with a plain (not unique) key property
        // a second create would make every task of the batch twice. The next delivery's search finds what landed.
        answer = await this.client.request<TaskAnswer>('POST', HUBSPOT_PATHS.batchCreate('tasks'), {
          retryUnanswered: false,
          body: {
            inputs: batch.map((t) => ({
              objectWriteTraceId: t.externalKey,
              properties: {
                [ALERT_KEY_PROPERTY]: stored(t.externalKey),
                hubspot_owner_id: t.ownerExternalId,
                hs_task_subject: t.subject.slice(0, 255),
                hs_task_body: t.description.slice(0, 65_000),
                hs_task_status: 'NOT_STARTED',
                hs_task_priority: 'HIGH',
                // Noon UTC is the due day's date in every time zone from UTC-11 to UTC+11 (midnight UTC shows as the
                // day before in the Americas).
                hs_timestamp: `${t.dueDate}T12:00:00.000Z`,
              },
              ...(t.relatedToExternalId
                ? {
                    associations: [
                      {
                        to: { id: t.relatedToExternalId },
                        types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: TASK_TO_DEAL }],
                      },
                    ],
                  }
                : {}),
            })),
          },
        });
      } catch (e) {
        const status = isAppError(e) ? (e.details as { status?: number } | undefined)?.status : undefined;
        // A validation refusal (400) is about the tasks; anything else (a 401, 403, no answer) is not split.
        const refused = status === 400;
        // Refused whole (400) for one bad input (an owner gone, a deal deleted): nothing was made, so the batch goes
        // again in halves, down to the task at fault, which alone fails; the others are made.
        if (refused && batch.length > 1) {
          const half = Math.ceil(batch.length / 2);
          await send(batch.slice(0, half));
          await send(batch.slice(half));
          return;
        }
        // Else the batch may or may not have been applied: its keys stay unconfirmed, and the next delivery searches.
        for (const t of batch)
          results.set(t.externalKey, {
            externalKey: t.externalKey,
            ok: false,
            errorCode: isAppError(e) ? e.code : 'NO_ANSWER',
            message: e instanceof Error ? e.message : String(e),
            retryable: !refused,
          });
        return;
      }
      const made = new Map((answer.results ?? []).map((r) => [stored(r.properties?.[ALERT_KEY_PROPERTY] ?? ''), r.id]));
      for (const t of batch) {
        const id = made.get(stored(t.externalKey));
        if (id) {
          results.set(t.externalKey, { externalKey: t.externalKey, ok: true, crmTaskId: id, created: true });
          continue;
        }
        const err =
          (answer.errors ?? []).find((e) =>
            Object.values(e.context ?? {}).some((v) => Array.isArray(v) && v.map(String).includes(t.externalKey)),
          ) ?? answer.errors?.[0];
        results.set(t.externalKey, {
          externalKey: t.externalKey,
          ok: false,
          errorCode: err?.category ?? 'NO_RESULT',
          message: err?.message ?? 'HubSpot returned no result for this task',
          retryable: true,
        });
      }
    };
    for (let i = 0; i < todo.length; i += HUBSPOT_BATCH) await send(todo.slice(i, i + HUBSPOT_BATCH));
    return tasks.map(
      (t) => results.get(t.externalKey) ?? { externalKey: t.externalKey, ok: false, errorCode: 'NO_RESULT' },
    );
  }

  /** Marks tasks completed (the alert resolved). A task a user deleted counts as closed: never re-made to close it. */
  async closeTasks(tasks: ReadonlyArray<{ externalKey: string; crmTaskId: string }>): Promise<HubSpotTaskResult[]> {
    const out: HubSpotTaskResult[] = [];
    type Task = (typeof tasks)[number];
    const failAll = (batch: readonly Task[], e: unknown, retryable: boolean) => {
      for (const t of batch)
        out.push({
          externalKey: t.externalKey,
          ok: false,
          crmTaskId: t.crmTaskId,
          message: e instanceof Error ? e.message : String(e),
          retryable,
        });
    };
    const statusOf = (e: unknown) =>
      isAppError(e) ? (e.details as { status?: number } | undefined)?.status : undefined;
    const refusal = (e: unknown) => statusOf(e) === 400 || statusOf(e) === 404;
    // One batch update: its 207 read per task; a refusal of the whole batch (400, 404) is returned to the caller,
    // any other failure (401, 403, 429, 5xx: about the call) fails the batch, to be sent again next time.
    const attempt = async (batch: readonly Task[]): Promise<unknown | null> => {
      let answer: TaskAnswer;
      try {
        answer = await this.client.post<TaskAnswer>(HUBSPOT_PATHS.batchUpdate('tasks'), {
          inputs: batch.map((t) => ({ id: t.crmTaskId, properties: { hs_task_status: 'COMPLETED' } })),
        });
      } catch (e) {
        if (refusal(e)) return e;
        failAll(batch, e, true);
        return null;
      }
      const done = new Set((answer.results ?? []).map((r) => r.id));
      const gone = new Set(
        (answer.errors ?? [])
          .filter((e) => e.category === 'OBJECT_NOT_FOUND')
          .flatMap((e) => Object.values(e.context ?? {}).flatMap((v) => (Array.isArray(v) ? v.map(String) : []))),
      );
      for (const t of batch) {
        const ok = done.has(t.crmTaskId) || gone.has(t.crmTaskId);
        out.push({
          externalKey: t.externalKey,
          ok,
          crmTaskId: t.crmTaskId,
          ...(ok ? {} : { message: answer.errors?.[0]?.message ?? 'HubSpot returned no result for this task' }),
        });
      }
      return null;
    };
    // Tasks that all exist, refused whole: a bad one among them is found by halves, and when both halves are
    // refused the refusal is about every task (a property the portal will not take): they fail without more calls.
    const isolate = async (batch: readonly Task[], e: unknown): Promise<void> => {
      if (batch.length === 1) return failAll(batch, e, statusOf(e) !== 400);
      const half = Math.ceil(batch.length / 2);
      const halves = [batch.slice(0, half), batch.slice(half)] as const;
      const first = await attempt(halves[0]);
      const second = await attempt(halves[1]);
      if (first !== null && second !== null) return failAll(batch, first, statusOf(first) !== 400);
      if (first !== null) await isolate(halves[0], first);
      if (second !== null) await isolate(halves[1], second);
    };
    // HubSpot answers a batch holding a task a user deleted either with a 207 naming it or by refusing the whole
    // batch (404 OBJECT_NOT_FOUND, or a 400), applying nothing. Which tasks still exist is then asked once (a batch
    // read: one call): those that do not are gone, as good as closed; the rest are sent again. A read that fails too
    // (a 404 about the path, a proxy) means the refusal was about the call: nothing is counted closed.
    const send = async (batch: readonly Task[]): Promise<void> => {
      const refused = await attempt(batch);
      if (refused === null) return;
      let found: Set<string>;
      try {
        found = await this.existing(batch.map((t) => t.crmTaskId));
      } catch {
        return failAll(batch, refused, true);
      }
      for (const t of batch)
        if (!found.has(t.crmTaskId)) out.push({ externalKey: t.externalKey, ok: true, crmTaskId: t.crmTaskId });
      const left = batch.filter((t) => found.has(t.crmTaskId));
      if (left.length === 0) return;
      const again = await attempt(left);
      if (again !== null) await isolate(left, again);
    };
    for (let i = 0; i < tasks.length; i += HUBSPOT_BATCH) await send(tasks.slice(i, i + HUBSPOT_BATCH));
    return out;
  }

  /** The task ids of `ids` the portal has (a batch read, up to 100: one call; a missing id is an error in a 207). */
  private async existing(ids: readonly string[]): Promise<Set<string>> {
    const answer = await this.client.post<TaskAnswer>(HUBSPOT_PATHS.batchRead('tasks'), {
      inputs: ids.map((id) => ({ id })),
      properties: ['hs_task_status'],
    });
    return new Set((answer.results ?? []).map((r) => r.id));
  }
}
