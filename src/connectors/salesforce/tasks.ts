/**
 * Alert tasks in Salesforce: one Task per alert and severity for the rep's manager, upserted on the unique
 * external id `Quota_Alert_Key__c` (`dedupeKey:severity`), so a retried or restarted delivery finds the task it
 * already made instead of making a second one. Closing sets Status to Completed on the task's Id.
 */

import type { Logger } from '../../util/log.ts';
import type { AlertTask } from '../types.ts';
import type { SalesforceClient } from './client.ts';
import { compositeWrite } from './write.ts';

/** The Task field that carries our key (External ID, Unique): shipped in salesforce-metadata/. */
export const ALERT_KEY_FIELD = 'Quota_Alert_Key__c';

export interface TaskResult {
  externalKey: string;
  ok: boolean;
  /** The Task's Salesforce Id. */
  crmTaskId?: string;
  /** True when this call created the task, false when it found the one made before. */
  created?: boolean;
  errorCode?: string;
  message?: string;
  retryable?: boolean;
}

/** Creates and closes alert tasks through one Salesforce connection. */
export class SalesforceTaskWriter {
  constructor(
    private readonly client: SalesforceClient,
    private readonly log: Logger,
    private readonly keyField: string = ALERT_KEY_FIELD,
  ) {}

  apiCalls(): number {
    return this.client.apiCalls();
  }

  /** Upserts open tasks: creates them the first time, changes nothing visible when sent again. */
  async upsertTasks(tasks: readonly AlertTask[]): Promise<TaskResult[]> {
    const records = tasks.map((t) => ({
      key: t.externalKey,
      body: {
        [this.keyField]: t.externalKey,
        OwnerId: t.ownerExternalId,
        Subject: t.subject.slice(0, 255),
        Description: t.description.slice(0, 32_000),
        ActivityDate: t.dueDate,
        Status: 'Not Started',
        Priority: 'High',
        ...(t.relatedToExternalId ? { WhatId: t.relatedToExternalId } : {}),
      },
    }));
    return this.send(records);
  }

  /**
   * Marks tasks Completed (the alert resolved), by their Salesforce Id. A task a user already deleted counts as
   * closed: it is never re-created just to be closed.
   */
  async closeTasks(tasks: ReadonlyArray<{ externalKey: string; crmTaskId: string }>): Promise<TaskResult[]> {
    const byId = new Map(tasks.map((t) => [t.crmTaskId, t.externalKey]));
    const results = await compositeWrite(
      this.client,
      'Task',
      tasks.map((t) => ({ key: t.crmTaskId, body: { Id: t.crmTaskId, Status: 'Completed' } })),
      null,
      { log: this.log },
    );
    return results.map((r) => {
      const gone = r.errorCode === 'ENTITY_IS_DELETED' || r.errorCode === 'INVALID_CROSS_REFERENCE_KEY';
      return {
        externalKey: byId.get(r.targetRecordId) ?? r.targetRecordId,
        ok: r.ok || gone,
        crmTaskId: r.targetRecordId,
        ...(r.ok || gone ? {} : { errorCode: r.errorCode, message: r.message, retryable: r.retryable }),
      };
    });
  }

  /** Existing (not deleted) tasks carrying these keys, key -> Task Id; 100 keys a query. */
  async findTasks(keys: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const quote = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
    for (let i = 0; i < keys.length; i += 100) {
      const chunk = keys.slice(i, i + 100);
      let page = await this.client.query<{ Id: string } & Record<string, unknown>>(
        `SELECT Id, ${this.keyField} FROM Task WHERE ${this.keyField} IN (${chunk.map(quote).join(', ')})`,
      );
      for (;;) {
        for (const r of page.records) out.set(String(r[this.keyField]), r.Id);
        if (page.done || !page.nextRecordsUrl) break;
        page = await this.client.queryMore(page.nextRecordsUrl);
      }
    }
    return out;
  }

  private async send(records: Array<{ key: string; body: Record<string, unknown> }>): Promise<TaskResult[]> {
    const results = await compositeWrite(this.client, 'Task', records, this.keyField, { log: this.log });
    return results.map((r) => ({
      externalKey: r.targetRecordId,
      ok: r.ok,
      ...(r.crmId ? { crmTaskId: r.crmId } : {}),
      ...(r.created !== undefined ? { created: r.created } : {}),
      ...(r.errorCode ? { errorCode: r.errorCode } : {}),
      ...(r.message ? { message: r.message } : {}),
      ...(r.retryable !== undefined ? { retryable: r.retryable } : {}),
    }));
  }
}
