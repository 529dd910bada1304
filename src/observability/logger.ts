import { pino, type Logger } from 'pino';

/**
 * The process logger. Credentials are redacted wherever a header object is logged, and request
 * bodies are never logged: prompts are customer data.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'maas-gateway' },
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["x-api-key"]',
        'headers.authorization',
        'headers["x-api-key"]',
        '*.api_key',
        'api_key',
      ],
      censor: '[redacted]',
    },
  });
}

export type { Logger };
