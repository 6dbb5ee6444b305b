/**
 * Every HubSpot API path the connector calls, in one place: HubSpot is moving to date-versioned paths
 * (`/crm/objects/2026-03/{object}/search`, https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm)
 * and retiring v1-v4. When a path must move, it moves here (the README lists them with their pages).
 */
export const HUBSPOT_PATHS = {
  /** Portal time zone and company currency. */
  accountDetails: '/account-info/v3/details',
  /** Owners, `archived=true` for deactivated users' owners. */
  owners: '/crm/v3/owners',
  /** Pipelines and stages of an object type (`deals`). */
  pipelines: (objectType: string) => `/crm/v3/pipelines/${objectType}`,
  /** List an object type (100 a page, 50 with `propertiesWithHistory`). */
  objects: (objectType: string) => `/crm/v3/objects/${objectType}`,
  /** Search an object type (200 a page, 10,000 results a query). */
  search: (objectType: string) => `/crm/v3/objects/${objectType}/search`,
  /** Batch read by id (100 inputs, 50 with `propertiesWithHistory`). */
  batchRead: (objectType: string) => `/crm/v3/objects/${objectType}/batch/read`,
  /** Associations of many records to one object type: one call per page of ids (at most 1,000 ids a call). */
  associationsBatchRead: (fromType: string, toType: string) => `/crm/v4/associations/${fromType}/${toType}/batch/read`,
  /** The portal's exchange rates, paged (`after` an offset). */
  exchangeRates: '/settings/v3/currencies/exchange-rates',
  /** The portal's daily API usage for private apps (`usageLimit`, `currentUsage`, `resetsAt`). */
  dailyUsage: '/account-info/v3/api-usage/daily/private-apps',
  /** Batch upsert on a unique property (100 inputs), batch create and update (write-back, alert tasks). */
  batchUpsert: (objectType: string) => `/crm/v3/objects/${objectType}/batch/upsert`,
  batchCreate: (objectType: string) => `/crm/v3/objects/${objectType}/batch/create`,
  batchUpdate: (objectType: string) => `/crm/v3/objects/${objectType}/batch/update`,
  /** Custom object schemas: list and create (https://developers.hubspot.com/docs/api-reference/crm-custom-objects-v3/guide). */
  schemas: '/crm/v3/schemas',
  /** Properties of an object type: one by name, batch create, groups. */
  property: (objectType: string, name: string) => `/crm/v3/properties/${objectType}/${name}`,
  properties: (objectType: string) => `/crm/v3/properties/${objectType}`,
  propertiesBatchCreate: (objectType: string) => `/crm/v3/properties/${objectType}/batch/create`,
  propertyGroups: (objectType: string) => `/crm/v3/properties/${objectType}/groups`,
  /** How many custom object schemas the portal may hold (0: none; https://developers.hubspot.com/docs/api-reference/crm-limits-tracking-v3/limits/get-crm-v3-limits-custom-object-types). */
  customObjectLimits: '/crm/v3/limits/custom-object-types',
} as const;
