import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import type { PushedBody, WholeBody } from '../adapter.ts';
import { requestRaw } from './raw-request.ts';

let server: Server;
let pool: Pool;
/** The server's answer for a path: status and body parts written with a pause between them. */
const answers: Record<string, { status: number; parts: string[]; holdOpen?: boolean }> = {
  '/parts': { status: 200, parts: ['data: 1\n\n', 'data: 2\n\n', 'data: 3\n\n'] },
  '/error': { status: 503, parts: ['{"error":{"message":"overloaded"}}'] },
  '/stall': { status: 200, parts: ['data: 1\n\n'], holdOpen: true },
};

before(async () => {
  server = createServer((req, res) => {
    const answer = answers[req.url!]!;
    res.writeHead(answer.status, { 'content-type': 'text/plain' });
    let i = 0;
    const next = (): void => {
      if (i < answer.parts.length) {
        res.write(answer.parts[i++]);
        setTimeout(next, 5);
      } else if (!answer.holdOpen) res.end();
    };
    next();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
after(async () => {
  await pool.close();
  server.closeAllConnections();
  server.close();
});

const get = (path: string, stream: boolean, signal = new AbortController().signal) => requestRaw(pool, { method: 'GET', path }, signal, stream);

function drain(body: PushedBody): Promise<{ chunks: string[]; error?: unknown }> {
  return new Promise((resolve) => {
    const chunks: string[] = [];
    body.consume({ data: (c) => chunks.push(c.toString()), end: () => resolve({ chunks }), error: (error) => resolve({ chunks, error }) });
  });
}

test('a non-streamed answer comes whole; a stream is pushed chunk by chunk, early chunks included', async () => {
  const whole = await get('/parts', false);
  assert.equal((await (whole.body as WholeBody).whole).toString(), 'data: 1\n\ndata: 2\n\ndata: 3\n\n');
  const pushed = await get('/parts', true);
  await new Promise((r) => setTimeout(r, 30)); // every part arrives before anyone consumes
  const { chunks, error } = await drain(pushed.body as PushedBody);
  assert.equal(error, undefined);
  assert.equal(chunks.join(''), 'data: 1\n\ndata: 2\n\ndata: 3\n\n');
});

test('an error status on a streamed call comes whole, for the error reader', async () => {
  const res = await get('/error', true);
  assert.equal(res.status, 503);
  assert.match((await (res.body as WholeBody).whole).toString(), /overloaded/);
});

test('the abort signal ends a body mid-way with its reason, and destroy() stops delivery', async () => {
  const abort = new AbortController();
  const res = await get('/stall', true, abort.signal);
  const drained = drain(res.body as PushedBody);
  setTimeout(() => abort.abort(new Error('client went away')), 20);
  const { chunks, error } = await drained;
  assert.deepEqual(chunks, ['data: 1\n\n']);
  assert.equal((error as Error).message, 'client went away');

  const stalled = await get('/stall', true);
  const seen: string[] = [];
  let ended = false;
  (stalled.body as PushedBody).consume({ data: (c) => seen.push(c.toString()), end: () => (ended = true), error: () => (ended = true) });
  (stalled.body as PushedBody).destroy();
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(ended, false, 'nothing is delivered after destroy');
});
