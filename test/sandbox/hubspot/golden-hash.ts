// Run in a fresh process by golden.test.ts: prints the HubSpot store hash for (seed, size, anchor[, part]).

import { hubspotStoreHash } from '../../../src/sandbox/hubspot/hash.ts';
import { buildHubSpotStore } from '../../../src/sandbox/hubspot/index.ts';
import { generateOrg } from '../../../src/sandbox/org/index.ts';
import { splitOrg } from '../../../src/sandbox/org/split.ts';

const [seed, size, anchorDate, part] = process.argv.slice(2) as [
  string,
  'small' | 'medium',
  string,
  string | undefined,
];
const whole = generateOrg({ seed: Number(seed), size, anchorDate });
const org = part === 'both' ? splitOrg(whole).second : whole;
const { store } = buildHubSpotStore({ seed: Number(seed), size, anchorDate, org });
process.stdout.write(`${hubspotStoreHash(store)}\n`);
