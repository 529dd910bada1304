/**
 * The HTTP edges of the API, outside any one endpoint: 405 for a known URL called with the wrong
 * method, CORS for browser apps, requests Node's parser or the router reject before any route
 * runs, and where the key may come from.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startGateway, type GatewayProcess } from '../helpers/gateway.ts';

let gw: GatewayProcess;
let restricted: GatewayProcess;

before(async () => {
  [gw, restricted] = await Promise.all([startGateway(), startGateway({ env: { MAAS_CORS_ORIGINS: 'https://app.example, https://other.example' } })]);
});
after(async () => {
  await Promise.all([gw?.stop(), restricted?.stop()]);
});

const chatBody = JSON.stringify({ model: 'Qwen3-4B-Instruct', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });

async function call(target: GatewayProcess, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${target.url}${path}`, { ...init, headers: { authorization: `Bearer ${target.apiKey}`, ...init.headers } });
}

async function errorOf(res: Response): Promise<{ message: string; type: string; param: string | null; code: string | null }> {
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.ok(res.headers.get('x-request-id'));
  const body = (await res.json()) as { error: { message: string; type: string; param: string | null; code: string | null } };
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
  return body.error;
}

/** Sends raw bytes on a fresh connection and returns everything the server wrote before closing. */
function rawExchange(target: GatewayProcess, bytes: string): Promise<string> {
  const { hostname, port } = new URL(target.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString()));
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
  });
}

describe('wrong method on a known URL', () => {
  test('405 method_not_allowed with Allow, on every prefix and on wildcard routes', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['GET', '/v1/chat/completions', /^POST, OPTIONS$/],
      ['PUT', '/maas/v1/embeddings', /^POST, OPTIONS$/],
      ['DELETE', '/v1/models', /^GET, HEAD, OPTIONS$/],
      ['POST', '/v1/models/Qwen3-4B-Instruct', /^GET, HEAD, OPTIONS$/],
      ['GET', '/maas/Qwen3-4B-Instruct/nvidia/chat/completions', /^POST, OPTIONS$/],
    ];
    for (const [method, path, allow] of cases) {
      const res = await call(gw, path, { method });
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.match(res.headers.get('allow') ?? '', allow);
      const error = await errorOf(res);
      assert.equal(error.code, 'method_not_allowed');
      assert.match(error.message, new RegExp(`^${method} is not allowed on ${path.replaceAll('/', '\\/')}`));
    }
  });

  test('an unknown URL stays 404 not_found, and HEAD on a GET route answers', async () => {
    const unknown = await call(gw, '/v1/nothing-here', { method: 'DELETE' });
    assert.equal(unknown.status, 404);
    assert.equal((await errorOf(unknown)).code, 'not_found');
    const head = await call(gw, '/v1/models', { method: 'HEAD' });
    assert.equal(head.status, 200);
  });
});

describe('CORS', () => {
  test('by default any origin: the preflight grants the method and the headers asked for', async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, x-stainless-os' },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.match(res.headers.get('access-control-allow-methods') ?? '', /\bPOST\b/);
    assert.equal(res.headers.get('access-control-allow-headers'), 'authorization, content-type, x-stainless-os');
    assert.ok(Number(res.headers.get('access-control-max-age')) > 0);
    assert.equal(res.headers.get('allow'), 'POST, OPTIONS');
    const plain = await fetch(`${gw.url}/v1/models`, { method: 'OPTIONS' });
    assert.equal(plain.status, 204);
    assert.equal(plain.headers.get('allow'), 'GET, HEAD, OPTIONS', "a plain OPTIONS lists the URL's methods");
    assert.equal(plain.headers.get('access-control-allow-origin'), null);
    const unknown = await fetch(`${gw.url}/v1/nothing-here`, { method: 'OPTIONS', headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST' } });
    assert.equal(unknown.status, 404);
  });

  test('responses to a page carry the origin grant and expose the headers the SDKs read, streams too', async () => {
    const models = await call(gw, '/v1/models', { headers: { origin: 'http://localhost:3000' } });
    assert.equal(models.status, 200);
    assert.equal(models.headers.get('access-control-allow-origin'), '*');
    const exposed = (models.headers.get('access-control-expose-headers') ?? '').split(', ');
    for (const name of ['x-request-id', 'x-ratelimit-remaining-requests', 'retry-after-ms', 'x-maas-cost']) assert.ok(exposed.includes(name), name);

    const stream = await call(gw, '/v1/chat/completions', {
      method: 'POST',
      headers: { origin: 'http://localhost:3000', 'content-type': 'application/json' },
      body: chatBody.replace('{', '{"stream":true,'),
    });
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(stream.headers.get('access-control-allow-origin'), '*');
    assert.match(await stream.text(), /data: \[DONE\]/);

    const error = await call(gw, '/v1/chat/completions', { method: 'POST', headers: { origin: 'http://localhost:3000' }, body: '{' });
    assert.equal(error.status, 400);
    assert.equal(error.headers.get('access-control-allow-origin'), '*', 'errors are readable by the page too');

    const noOrigin = await call(gw, '/v1/models');
    assert.equal(noOrigin.headers.get('access-control-allow-origin'), null, 'no CORS headers for non-browser clients');
  });

  test('with a list of origins: a listed one is echoed (Vary: Origin), any other gets no grant', async () => {
    const listed = await call(restricted, '/v1/models', { headers: { origin: 'https://other.example' } });
    assert.equal(listed.headers.get('access-control-allow-origin'), 'https://other.example');
    assert.match(listed.headers.get('vary') ?? '', /Origin/);

    const stranger = await call(restricted, '/v1/models', { headers: { origin: 'https://evil.example' } });
    assert.equal(stranger.status, 200);
    assert.equal(stranger.headers.get('access-control-allow-origin'), null);
    assert.match(stranger.headers.get('vary') ?? '', /Origin/, 'a shared cache must not hand it to a listed origin');

    const preflight = await fetch(`${restricted.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), null);
    assert.equal(preflight.headers.get('access-control-allow-methods'), null);
  });
});

describe('requests rejected before any route', () => {
  test('headers too large → 431 in the OpenAI shape with x-request-id, then the connection closes', async () => {
    const raw = await rawExchange(gw, `GET /v1/models HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.match(raw, /^HTTP\/1\.1 431 /);
    assert.match(raw, /\r\nx-request-id: req_[0-9a-f]+\r\n/);
    assert.match(raw, /\r\nconnection: close\r\n/);
    const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'invalid_request');
    assert.match(body.error.message, /headers are larger/);
  });

  test('a broken request line or Content-Length → 400 in the OpenAI shape', async () => {
    for (const bytes of ['NONSENSE\r\n\r\n', `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: abc\r\n\r\n{}`]) {
      const raw = await rawExchange(gw, bytes);
      assert.match(raw, /^HTTP\/1\.1 400 /);
      assert.match(raw, /\r\nx-request-id: req_/);
      const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as { error: { code: string; type: string } };
      assert.equal(body.error.code, 'invalid_request');
      assert.equal(body.error.type, 'invalid_request_error');
    }
  });

  test('garbage pipelined behind a stream under way does not write a second response into it', async () => {
    const { hostname, port } = new URL(gw.url);
    const socket = connect(Number(port), hostname);
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString()));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    const body = chatBody.replace('{', '{"stream":true,').replace('"max_tokens":4', '"max_tokens":60');
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${gw.apiKey}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    for (let i = 0; i < 100 && !received.includes('data: '); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(received.includes('data: '), 'the stream started');
    socket.write('NONSENSE\r\n\r\n');
    await closed;
    assert.equal(received.split('HTTP/1.1 ').length - 1, 1, received.slice(0, 2000));
  });

  test('a body that is not JSON gets its 400 and the connection stays open for the requests behind it', async () => {
    const { hostname, port } = new URL(gw.url);
    const socket = connect(Number(port), hostname);
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString()));
    const post = (body: string) =>
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${gw.apiKey}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    socket.write(post(chatBody) + post('{"model": ') + post('') + post(chatBody));
    for (let i = 0; i < 300 && received.split('HTTP/1.1 ').length - 1 < 4; i++) await new Promise((r) => setTimeout(r, 10));
    socket.destroy();
    const statuses = [...received.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
    assert.deepEqual(statuses, ['200', '400', '400', '200'], received.slice(0, 3000));
    assert.ok(!/connection: close/i.test(received));
    assert.match(received, /could not parse the JSON body/);
    assert.match(received, /The request body is empty/);
  });

  test('a URL that cannot be decoded → 400 invalid_request with x-request-id', async () => {
    const raw = await rawExchange(gw, `GET /v1/models/%ZZ HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${gw.apiKey}\r\nconnection: close\r\n\r\n`);
    assert.match(raw, /^HTTP\/1\.1 400 /);
    assert.match(raw, /\r\nx-request-id: req_/i);
    const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as { error: { code: string } };
    assert.equal(body.error.code, 'invalid_request');
  });
});

describe('where the key comes from', () => {
  test('an Authorization header without a bearer key does not hide X-API-Key', async () => {
    for (const authorization of ['', 'Bearer ', 'Bearer', 'Basic Zm9vOmJhcg==']) {
      const res = await fetch(`${gw.url}/v1/models`, { headers: { authorization, 'x-api-key': gw.apiKey } });
      assert.equal(res.status, 200, JSON.stringify(authorization));
    }
    const neither = await fetch(`${gw.url}/v1/models`, { headers: { authorization: 'Bearer ', 'x-api-key': ' ' } });
    assert.equal(neither.status, 401);
  });
});

describe('retry hints', () => {
  test('a 429 carries retry-after and retry-after-ms', async () => {
    const res = await call(gw, '/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'Qwen3-4B-Instruct', messages: [{ role: 'user', content: 'hi' }], n: 128, max_tokens: 100_000 }),
    });
    const error = await errorOf(res);
    assert.equal(res.status, 429, error.message);
    const seconds = Number(res.headers.get('retry-after'));
    assert.ok(Number.isInteger(seconds) && seconds >= 1 && seconds <= 60);
    assert.equal(Number(res.headers.get('retry-after-ms')), seconds * 1000);
  });
});
