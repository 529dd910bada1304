import type { IncomingHttpHeaders } from 'node:http';

/**
 * The caller's key from `Authorization: Bearer …` (what every OpenAI SDK sends; the scheme
 * word is case-insensitive) or, when that header is absent, `X-API-Key` (seed 003).
 */
export function extractApiKey(headers: IncomingHttpHeaders): string | undefined {
  const authorization = headers.authorization;
  if (authorization !== undefined) {
    const space = authorization.indexOf(' ');
    if (space === -1 || authorization.slice(0, space).toLowerCase() !== 'bearer') return undefined;
    const key = authorization.slice(space + 1).trim();
    return key.length > 0 ? key : undefined;
  }
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.length > 0) return apiKey.trim();
  return undefined;
}
