import { describe, expect, it } from 'vitest';
import { wrapParagraph } from '../../src/reports/text-lines.ts';

describe('wrapParagraph', () => {
  it('keeps a short paragraph as it is', () => {
    expect(wrapParagraph('  short one', 20)).toEqual(['  short one']);
  });

  it('breaks at spaces before the width, continuation lines indented four more', () => {
    expect(wrapParagraph('  aaa bbb ccc ddd eee', 12)).toEqual(['  aaa bbb', '      ccc', '      ddd', '      eee']);
  });

  it('leaves no trailing space and no line of indentation only, whatever spaces the text has', () => {
    expect(wrapParagraph('  aaa bbb  ccc ddd', 10)).toEqual(['  aaa bbb', '      ccc', '      ddd']);
    expect(wrapParagraph('  aaa bbb ccc ', 8)).toEqual(['  aaa', '      bbb', '      ccc']);
  });

  it('keeps a word longer than the width whole on its own line', () => {
    expect(wrapParagraph('  a 0068d000000XEQWAA4 b', 10)).toEqual(['  a', '      0068d000000XEQWAA4', '      b']);
  });
});
