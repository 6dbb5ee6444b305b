/**
 * The HTTP client of `bench/web.bench.ts`, run as a process of its own as real clients are: in the server's
 * process, each 30 MB answer gathered and inflated beside a multi-gigabyte model heap took 1.6-3 s of garbage
 * collection, where curl from outside took 24-170 ms for the same answer.
 *
 * Reads `{ url, token, requests: [{ key, path }] }` as JSON on stdin, asks for each path in turn over one kept-alive
 * connection (gzip accepted and inflated, as a browser does) and prints `[{ key, ms, bytes, source }]` as JSON
 * (`source`: the answer's `x-report-source`): the time
 * from the request to the whole JSON in hand. A connection the server closed while idle is retried once, counted.
 */
import http from 'node:http';
import { gunzipSync } from 'node:zlib';

interface Plan {
  url: string;
  token: string;
  requests: { key: string; path: string }[];
}

let input = '';
for await (const chunk of process.stdin) input += chunk;
const plan = JSON.parse(input) as Plan;
const agent = new http.Agent({ keepAlive: true });
let resets = 0;

function once(path: string): Promise<{ status: number; body: Buffer; source: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      `${plan.url}${path}`,
      { agent, headers: { authorization: `Bearer ${plan.token}`, 'accept-encoding': 'gzip' } },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('error', reject);
        res.on('end', () => {
          const raw = Buffer.concat(parts);
          resolve({
            status: res.statusCode ?? 0,
            source: String(res.headers['x-report-source'] ?? ''),
            body: res.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw,
          });
        });
      },
    );
    req.on('error', reject);
  });
}

const out: { key: string; ms: number; bytes: number; source: string }[] = [];
for (const r of plan.requests) {
  const started = performance.now();
  const res = await once(r.path).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ECONNRESET') throw e;
    resets++;
    return once(r.path);
  });
  const ms = performance.now() - started;
  if (res.status !== 200) {
    console.error(`${r.path}: ${res.status} ${res.body.toString('utf8').slice(0, 300)}`);
    process.exit(1);
  }
  out.push({ key: r.key, ms, bytes: res.body.byteLength, source: res.source });
}
agent.destroy();
process.stdout.write(JSON.stringify({ results: out, resets }));
