/** The CRM-neutral org generator shared by the Salesforce and HubSpot sandboxes. */
export { rateOn } from './currencies.ts';
export {
  type GenerateOrgOptions,
  generateOrg,
  generateOrgWithNotes,
  LARGE_COUNTS,
  type LargeCounts,
  type OrgNotes,
  personByKey,
  UNKNOWN_CURRENCY,
} from './generate.ts';
export { orgHash } from './hash.ts';
export { LazyOrg, MEETING_EVERY } from './lazy.ts';
export * from './model.ts';
export { Rng } from './random.ts';
export { anchorInstant, quarterOf, quarterOffset } from './time.ts';
