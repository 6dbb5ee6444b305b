/**
 * The JSON Schema of `quota-tracker.yaml`, generated from the zod schema so the two cannot drift apart. Editors
 * (VS Code's YAML extension, for one) use it for completion and checks: `quota-tracker config schema > schema.json`.
 */
import { z } from 'zod';
import { configSchema } from './schema.ts';

/** JSON Schema (draft 2020-12) of what a user may write: keys with defaults are optional. */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    ...schema,
    title: 'quota-tracker configuration',
    description: 'quota-tracker.yaml: CRM connections, fiscal calendar, quotas, metrics, alerts and write-back.',
  };
}
