/**
 * The reference relay of the load benchmark: a `node:http` server that forwards each request
 * body to the upstream through one pooled undici `Pool` and streams the answer back. No
 * features at all (no keys, routing, billing, validation), so what it adds over going direct
 * is what this machine charges any Node relay at that moment: the floor under the gateway's
 * numbers, measured in the same run (bench/load.ts: `nonstream-c1` and `ttfb-c16`).
 *
 *   node bench/bare-relay.ts http://127.0.0.1:18080/v1
 */
import { createServer } from 'node:http';
import { Pool } from 'undici';

const base = process.argv[2];
if (base === undefined) {
  process.stderr.write('usage: node bench/bare-relay.ts <upstream base URL, e.g. http://127.0.0.1:18080/v1>\n');
  process.exit(2);
}
const upstream = new URL(base);
const pool = new Pool(upstream.origin, { connections: 256 });

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const path = upstream.pathname.replace(/\/$/, '') + (req.url ?? '/').replace(/^\/v1/, '');
    pool
      .request({ path, method: 'POST', body: Buffer.concat(chunks), headers: { 'content-type': 'application/json' } })
      .then(async (answer) => {
        res.writeHead(answer.statusCode, { 'content-type': String(answer.headers['content-type'] ?? 'application/json') });
        for await (const chunk of answer.body) res.write(chunk);
        res.end();
      })
      .catch(() => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
  });
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stdout.write(`bare relay listening on http://127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => {
  server.close();
  void pool.close();
});
