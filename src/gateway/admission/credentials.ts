import type { IncomingHttpHeaders } from 'node:http';

/**
 * The caller's key from `Authorization: Bearer …` (what every OpenAI SDK sends; the scheme
 * word is case-insensitive) or else `X-API-Key` (seed 003). An `Authorization` header that
 * carries no bearer key — blank, `Bearer` alone, another scheme — does not hide an `X-API-Key`
 * sent beside it: proxies and HTTP libraries add empty ones.
 */
export function extractApiKey(headers: IncomingHttpHeaders): string | undefined {
  const authorization = headers.authorization;
  if (authorization !== undefined) {
    const key = bearerKey(authorization);
    if (key !== undefined) return key;
  }
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string') {
    const key = apiKey.trim();
    if (key.length > 0) return key;
  }
  return undefined;
}

function bearerKey(authorization: string): string | undefined {
  const space = authorization.indexOf(' ');
  if (space === -1 || authorization.slice(0, space).toLowerCase() !== 'bearer') return undefined;
  const key = authorization.slice(space + 1).trim();
  return key.length > 0 ? key : undefined;
}
