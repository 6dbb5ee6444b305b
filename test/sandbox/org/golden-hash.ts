// Run in a fresh process by golden.test.ts: prints the org hash for (seed, size, anchor) given as arguments.
import { generateOrg, orgHash } from '../../../src/sandbox/org/index.ts';

const [seed, size, anchorDate] = process.argv.slice(2);
const org = generateOrg({ seed: Number(seed), size: size as 'small' | 'medium', anchorDate: anchorDate as string });
process.stdout.write(`${orgHash(org)}\n`);
