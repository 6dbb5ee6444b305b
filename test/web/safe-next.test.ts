import { describe, expect, it } from 'vitest';
import { safeNext } from '../../src/web/routes/sign-in.ts';

describe('safeNext: where a sign-in goes next', () => {
  it('follows a path on this site, with its query', () => {
    expect(safeNext('/teams/West%201?period=FY2026-Q4')).toBe('/teams/West%201?period=FY2026-Q4');
    expect(safeNext('/')).toBe('/');
  });

  it('never leaves the site, however a browser would read the value', () => {
    for (const next of [
      undefined,
      '',
      'https://evil.example/',
      '//evil.example/',
      '/\\evil.example/',
      '/\t/evil.example',
      '/\n/evil.example',
      '/%09/evil.example'.replace('%09', '\t'),
      '\\\\evil.example',
      'javascript:alert(1)',
    ])
      expect(safeNext(next), JSON.stringify(next)).toBe('/login');
  });
});
