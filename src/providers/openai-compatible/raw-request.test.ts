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
  '/huge-error': { status: 500, parts: ['x'.repeat(40_000), 'x'.repeat(40_000)] },
};
/** Requests the server received, per path. */
const requestsSeen: Record<string, number> = {};

before(async () => {
  server = createServer((req, res) => {
    requestsSeen[req.url!] = (requestsSeen[req.url!] ?? 0) + 1;
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

test('a call waiting in the pool for a connection fails at once when aborted, and is never sent', async () => {
  const narrow = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: 1 });
  try {
    const partsBefore = requestsSeen['/parts'] ?? 0;
    const first = requestRaw(narrow, { method: 'GET', path: '/stall' }, new AbortController().signal, true); // holds the only connection
    const abort = new AbortController();
    const queued = requestRaw(narrow, { method: 'GET', path: '/parts' }, abort.signal, false);
    setTimeout(() => abort.abort(new Error('client went away')), 20);
    // The first call never ends by itself: without the fix the queued one would wait behind it.
    const stillQueued = new Promise<string>((resolve) => setTimeout(() => resolve('still queued after 2 s'), 2000).unref());
    const outcome = await Promise.race([queued.then(() => 'answered', (err: Error) => `failed: ${err.message}`), stillQueued]);
    assert.equal(outcome, 'failed: client went away');
    ((await first).body as PushedBody).destroy(); // the connection frees; the cancelled call must not go out
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(requestsSeen['/parts'] ?? 0, partsBefore);

    const already = new AbortController();
    already.abort(new Error('gone before dispatch'));
    await assert.rejects(requestRaw(narrow, { method: 'GET', path: '/parts' }, already.signal, false), /gone before dispatch/);
  } finally {
    await narrow.destroy();
  }
});

test('an error answer is collected only up to the error body limit', async () => {
  const res = await get('/huge-error', false);
  assert.equal(res.status, 500);
  await assert.rejects((res.body as WholeBody).whole, /larger than 65536 bytes/);
});
