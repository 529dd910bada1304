import { STATUS_CODES } from 'node:http';

/** A request the simulator refuses the way vLLM would (bad JSON, empty messages, unknown model…). */
export class SimRequestError extends Error {
  readonly status: number;
  readonly param: string | null;

  constructor(status: number, message: string, param: string | null = null) {
    super(message);
    this.name = 'SimRequestError';
    this.status = status;
    this.param = param;
  }
}

/** Thrown into a stream when the `drop_after_tokens` fault cuts the connection. */
export class SimDropError extends Error {
  constructor(tokens: number) {
    super(`simulator fault: connection dropped after ${tokens} tokens`);
    this.name = 'SimDropError';
  }
}

export const ERROR_FORMATS = ['openai', 'vllm', 'flat', 'platform', 'html'] as const;
export type ErrorFormat = (typeof ERROR_FORMATS)[number];

export interface RenderedError {
  readonly contentType: string;
  readonly text: string;
}

function reasonPhrase(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}

/** vLLM names the type after the status class: BadRequestError, NotFoundError, … */
function vllmType(status: number): string {
  const words = reasonPhrase(status).replace(/[^A-Za-z ]/g, '').split(' ');
  const name = words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
  return name.endsWith('Error') ? name : `${name}Error`;
}

/** OpenAI's own type/code pairs for the statuses clients branch on. */
function openaiTypeAndCode(status: number): [string, string | null] {
  switch (status) {
    case 401: return ['invalid_request_error', 'invalid_api_key'];
    case 404: return ['invalid_request_error', 'model_not_found'];
    case 429: return ['requests', 'rate_limit_exceeded'];
    default: return status >= 500 ? ['server_error', null] : ['invalid_request_error', null];
  }
}

const JSON_TYPE = 'application/json';

/** The error body in each dialect the gateway has to normalise. */
export function renderError(format: ErrorFormat, status: number, message: string, param: string | null = null): RenderedError {
  switch (format) {
    case 'openai': {
      const [type, code] = openaiTypeAndCode(status);
      return { contentType: JSON_TYPE, text: JSON.stringify({ error: { message, type, param, code } }) };
    }
    case 'vllm':
      return { contentType: JSON_TYPE, text: JSON.stringify({ error: { message, type: vllmType(status), param, code: status } }) };
    case 'flat':
      // Older vLLM builds: no wrapper, `object: "error"`.
      return { contentType: JSON_TYPE, text: JSON.stringify({ object: 'error', message, type: vllmType(status), param, code: status }) };
    case 'platform':
      return { contentType: JSON_TYPE, text: JSON.stringify({ code: status, msg: message }) };
    case 'html': {
      // What a reverse proxy in front of an engine answers; the message is deliberately not in it.
      const title = `${status} ${reasonPhrase(status)}`;
      return {
        contentType: 'text/html; charset=utf-8',
        text: `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`,
      };
    }
  }
}

export function defaultErrorMessage(status: number): string {
  return `simulated upstream error: ${reasonPhrase(status)}`;
}
