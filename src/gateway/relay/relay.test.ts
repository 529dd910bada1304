import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSimulatorAdapter } from '../../providers/simulator/adapter.ts';
import { parseSimulatorOptions } from '../../providers/simulator/options.ts';
import { testDeployment } from '../routing/testing.ts';
import { clientWishes, relay } from './relay.ts';

/** A real client response whose client hung up before the relay started (its 'close' already fired). */
async function abandonedResponse(): Promise<{ res: ServerResponse; close: () => void }> {
  let handed!: (res: ServerResponse) => void;
  const got = new Promise<ServerResponse>((resolve) => (handed = resolve));
  const server = createServer((_req, res) => handed(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = httpRequest({ port: (server.address() as AddressInfo).port, method: 'POST', path: '/' });
  client.on('error', () => undefined);
  client.end('{}');
  const res = await got;
  client.destroy();
  await new Promise((resolve) => res.once('close', resolve));
  return { res, close: () => server.close() };
}

test('a client that left before the relay started (while its hold was placed) is never sent upstream', async () => {
  const sim = createSimulatorAdapter('sim', parseSimulatorOptions({ ttft_ms: 50 }, 'sim'));
  const deployment = testDeployment(sim);
  const { res, close } = await abandonedResponse();
  try {
    for (const stream of [false, true]) {
      const body = { model: 'm', messages: [{ role: 'user', content: 'hi' }], stream };
      const outcome = relay(
        {
          endpoint: 'chat',
          deployment,
          body,
          wishes: clientWishes('chat', body),
          budgetMs: 60_000,
          requestId: 'req_test',
          responseHeaders: {},
          forwardHeaders: undefined,
          res,
          startStream: () => undefined,
        },
        { sendJson: () => assert.fail('nothing is answered to a client that left') },
      );
      await assert.rejects(outcome, { name: 'ClientGone', status: 499 });
    }
    assert.equal(sim.engine.stats().requests_total, 0, 'the upstream never saw either call');
  } finally {
    close();
  }
});
