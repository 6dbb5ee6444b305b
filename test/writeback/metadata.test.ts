/** The shipped Salesforce metadata declares every field write-back and alert delivery use, with matching types. */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALERT_KEY_FIELD } from '../../src/connectors/salesforce/tasks.ts';
import { DEFAULT_FIELD_UNITS, defaultLayout } from '../../src/connectors/salesforce/write-fields.ts';

const ROOT = new URL('../../salesforce-metadata/force-app/main/default/', import.meta.url);
const TYPE_OF_UNIT = { percent: 'Percent', number: 'Number', text: 'Picklist', date: 'Date' } as const;

function field(object: string, name: string): string {
  const path = new URL(`objects/${object}/fields/${name}.field-meta.xml`, ROOT);
  expect(existsSync(path), `${object}.${name} is shipped`).toBe(true);
  return readFileSync(path, 'utf8');
}

describe('salesforce-metadata', () => {
  it.each(['User', 'Quota_Scorecard__c'])(
    'declares the write-back fields on %s with the types the code expects',
    (object) => {
      for (const [key, spec] of Object.entries(defaultLayout())) {
        const xml = field(object, spec.name);
        const unit = DEFAULT_FIELD_UNITS[key as keyof typeof DEFAULT_FIELD_UNITS].unit;
        expect(xml, `${object}.${spec.name}`).toContain(`<type>${TYPE_OF_UNIT[unit]}</type>`);
      }
    },
  );

  it('declares the unique external ids that make retries idempotent', () => {
    for (const [object, name] of [
      ['Task', ALERT_KEY_FIELD],
      ['Quota_Scorecard__c', 'Scorecard_Key__c'],
    ] as const) {
      const xml = field(object, name);
      expect(xml).toContain('<externalId>true</externalId>');
      expect(xml).toContain('<unique>true</unique>');
    }
  });

  it('lists every field and both permission sets in package.xml', () => {
    const pkg = readFileSync(new URL('../../salesforce-metadata/manifest/package.xml', import.meta.url), 'utf8');
    for (const spec of Object.values(defaultLayout())) {
      expect(pkg).toContain(`<members>User.${spec.name}</members>`);
      expect(pkg).toContain(`<members>Quota_Scorecard__c.${spec.name}</members>`);
    }
    expect(pkg).toContain('<members>Task.Quota_Alert_Key__c</members>');
    expect(pkg).toContain('<members>Quota_Tracker_Integration</members>');
    expect(pkg).toContain('<members>Quota_Tracker_Scorecard_Reader</members>');
  });
});
