import type { Socket } from 'node:net';
import { GatewayError } from '../errors/gateway-error.ts';
import { serializeError } from '../errors/to-openai.ts';
import { newRequestId } from '../gateway/request-id.ts';

/**
 * Requests Node's HTTP parser rejects before any route sees them — headers too large, a broken
 * request line, a non-numeric Content-Length, a client too slow to send its headers — still get
 * the OpenAI error shape and an `x-request-id`, then the connection closes (the parser cannot
 * find where the next request would start).
 */
export function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  // Bad bytes pipelined behind a response already under way (a stream): writing a second
  // response into it would corrupt it; Node's own handler makes the same check.
  const current = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && current?.headersSent !== true) {
    const error = clientError(err.code);
    const body = serializeError(error);
    socket.write(
      `HTTP/1.1 ${error.status} ${STATUS_TEXT[error.status] ?? 'Bad Request'}\r\n` +
        `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `x-request-id: ${newRequestId()}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

const STATUS_TEXT: Readonly<Record<number, string>> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

function clientError(code: string | undefined): GatewayError {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return new GatewayError('invalid_request', 'The request headers are larger than the gateway accepts.', { status: 431 });
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new GatewayError('invalid_request', 'The request was not received in time.', { status: 408 });
    default:
      return new GatewayError('invalid_request', 'The HTTP request is malformed (request line, header or Content-Length).');
  }
}
