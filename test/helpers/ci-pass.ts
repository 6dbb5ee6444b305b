/**
 * CI (`.ci/run`) runs the suite three times: on the PostgreSQL server today, on the embedded server months ahead,
 * and on the server at a fiscal year end, each pass changing one thing a test can secretly depend on. The second
 * and third passes set `QT_CI_REPEAT=1`. A test that pins the program's clock and its sandbox's anchor date reads
 * the same day in every pass, so the slowest of those run in the first pass only, keeping the whole run well inside
 * CI's 45 minutes. Run alone (`npm test`, any developer run) every test runs.
 */
export const repeatPass = process.env.QT_CI_REPEAT === '1';
