/** Salesforce's error codes as the retry policy reads them (src/connectors/retry-policy.ts). */
import type { RetryCodes } from '../retry-policy.ts';

export const SALESFORCE_RETRY_CODES: RetryCodes = {
  rate: new Set(['REQUEST_LIMIT_EXCEEDED', 'TOO_MANY_REQUESTS', 'RATE_LIMIT_EXCEEDED']),
  field: new Set(['INVALID_FIELD', 'INVALID_TYPE', 'NO_SUCH_COLUMN', 'INVALID_FIELD_FOR_INSERT_UPDATE']),
  session: new Set(['INVALID_SESSION_ID']),
};
