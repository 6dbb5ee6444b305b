/** `quota-tracker config schema`: the JSON Schema of the configuration file on stdout. */
import { configJsonSchema } from '../../config/json-schema.ts';
import type { CommandContext } from '../program.ts';

export async function run(ctx: CommandContext): Promise<number> {
  ctx.io.stdout(JSON.stringify(configJsonSchema(), null, 2));
  return 0;
}
