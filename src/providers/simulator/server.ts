import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { SimulatorEngine, type SimResponse } from './engine.ts';
import { SimRequestError, renderError } from './errors.ts';
import { DEFAULT_SIMULATOR_OPTIONS, type SimulatorOptions } from './options.ts';

export interface SimulatorServerOptions {
  readonly host?: string;
  /** 0 = any free port. */
  readonly port?: number;
  readonly options?: SimulatorOptions;
}

export interface SimulatorServer {
  readonly url: string;
  readonly port: number;
  readonly engine: SimulatorEngine;
  close(): Promise<void>;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

function sendText(res: ServerResponse, status: number, contentType: string, text: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  sendText(res, status, JSON_HEADERS['content-type'], JSON.stringify(value));
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Writes the engine's answer: whole bodies in one write, streams piped with backpressure. */
function sendResponse(res: ServerResponse, response: SimResponse): void {
  if (response.drop === true) {
    res.socket?.destroy();
    return;
  }
  const headers = response.headers as OutgoingHttpHeaders;
  if (response.payload === undefined) {
    res.writeHead(response.status, headers);
    sendStream(res, response.body);
    return;
  }
  res.writeHead(response.status, { ...headers, 'content-length': Buffer.byteLength(response.payload) });
  res.end(response.payload);
}

function sendStream(res: ServerResponse, body: Readable): void {
  body.pipe(res);
  // A failing body is the drop fault (or the client leaving): flush what was sent, then cut the
  // connection mid-response, without the chunked terminator, as a crashed engine would.
  body.once('error', () => res.socket?.destroySoon());
  // vLLM sends the headers before generating; when the first token is immediate they simply
  // travel with it (one write instead of two).
  let started = false;
  body.once('data', () => (started = true));
  setImmediate(() => {
    if (!started && !res.destroyed) res.flushHeaders();
  });
}

/** The simulator's own endpoints, beside the OpenAI ones. */
type ControlRoute = (engine: SimulatorEngine, res: ServerResponse, req: IncomingMessage) => void | Promise<void>;

const CONTROL_ROUTES: Readonly<Record<string, ControlRoute>> = {
  'GET /health': (_engine, res) => {
    res.writeHead(200, { 'content-length': 0 });
    res.end();
  },
  'GET /metrics': (engine, res) => sendText(res, 200, 'text/plain; version=0.0.4; charset=utf-8', engine.metricsText()),
  'GET /sim/stats': (engine, res) => sendJson(res, 200, engine.stats()),
  'GET /sim/requests': (engine, res) => sendJson(res, 200, engine.requests()),
  'GET /sim/faults': (engine, res) => sendJson(res, 200, engine.faults()),
  'POST /sim/faults': async (engine, res, req) => {
    const text = (await readBody(req)).toString();
    try {
      engine.setFaults(text.trim() === '' ? {} : JSON.parse(text));
    } catch (error) {
      const message = error instanceof SimRequestError ? error.message : 'The request body is not valid JSON.';
      sendText(res, 400, 'application/json', renderError('vllm', 400, message, 'faults').text);
      return;
    }
    sendJson(res, 200, engine.faults());
  },
  'POST /sim/reset': async (engine, res, req) => {
    await readBody(req);
    engine.reset();
    sendJson(res, 200, {});
  },
};

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

async function inference(engine: SimulatorEngine, req: IncomingMessage, res: ServerResponse): Promise<void> {
  // The engine's work stops as soon as the client goes away (counted as cancelled).
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  const body = req.method === 'POST' ? await readBody(req) : undefined;
  const response = await engine.handle({ method: req.method ?? 'GET', path: req.url ?? '/', body, signal: controller.signal, headers: req.headers });
  if (!res.destroyed) sendResponse(res, response);
}

/**
 * The simulator over HTTP (`maas sim`): plain node:http, no framework and no per-request
 * logging, because it is the baseline every gateway benchmark is compared with.
 */
export async function startSimulatorServer(config: SimulatorServerOptions = {}): Promise<SimulatorServer> {
  const engine = new SimulatorEngine(config.options ?? DEFAULT_SIMULATOR_OPTIONS);
  const server = createServer((req, res) => {
    const control = CONTROL_ROUTES[`${req.method} ${pathOf(req.url ?? '/')}`];
    const work = control === undefined ? inference(engine, req, res) : control(engine, res, req);
    if (work instanceof Promise) {
      work.catch(() => {
        // Aborted by the client (nothing to answer) or a bug: never leave the socket hanging.
        if (!res.headersSent && !res.destroyed) sendText(res, 500, 'application/json', renderError('vllm', 500, 'simulator internal error').text);
        else res.destroy();
      });
    }
  });
  const host = config.host ?? '127.0.0.1';
  server.listen(config.port ?? 0, host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    engine,
    async close(): Promise<void> {
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}
