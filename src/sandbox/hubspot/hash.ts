/**
 * sha256 of a populated HubSpot store: every object (id, properties, property history, stamps, archived) of every
 * type in id order, its associations, the owners, users, teams, pipelines, properties and exchange rates, as
 * canonical JSON lines. Equal seeds, sizes and anchors give equal hashes; the golden test pins one.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../org/hash.ts';
import type { HubSpotStore } from './store.ts';

export function hubspotStoreHash(store: HubSpotStore): string {
  const h = createHash('sha256');
  const line = (v: unknown) => h.update(`${canonicalJson(v)}\n`);
  line({ portalId: store.portalId, timezone: store.timezone, home: store.homeCurrency, currencies: store.currencies });
  for (const type of store.typeNames().sort()) {
    const rows = store.all(type).sort((a, b) => a.id - b.id);
    line({ type, count: rows.length });
    for (const r of rows) {
      line([r.id, r.props, r.history, r.createdAt, r.updatedAt, r.archived, r.archivedAt]);
      for (const to of store.typeNames().sort()) {
        const links = store.associations(type, r.id, to);
        if (links.length) line([to, links]);
      }
    }
  }
  for (const o of [...store.owners.values()].sort((a, b) => a.id - b.id)) line(o);
  for (const u of [...store.users.values()].sort((a, b) => a.id - b.id)) line(u);
  for (const t of [...store.teams.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) line(t);
  for (const [type, p] of [...store.pipelines].sort()) line([type, p]);
  for (const [type, p] of [...store.properties].sort()) line([type, p.map((x) => x.name)]);
  for (const r of store.rates) line(r);
  return h.digest('hex');
}
