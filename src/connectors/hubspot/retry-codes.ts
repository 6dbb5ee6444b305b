import type { RetryCodes } from '../retry-policy.ts';

/**
 * HubSpot's error categories the retry policy reads (https://developers.hubspot.com/docs/api-reference/latest/error-handling):
 * `RATE_LIMIT` on a 429 body; an expired OAuth token is `EXPIRED_AUTHENTICATION`; an unknown property
 * `PROPERTY_DOESNT_EXIST` / `VALIDATION_ERROR` is the request's own fault.
 */
export const HUBSPOT_RETRY_CODES: RetryCodes = {
  rate: new Set(['RATE_LIMIT']),
  field: new Set(['PROPERTY_DOESNT_EXIST']),
  session: new Set(['EXPIRED_AUTHENTICATION']),
};
