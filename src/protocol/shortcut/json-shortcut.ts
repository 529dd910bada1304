import { readUsage, type Usage } from '../usage.ts';

/**
 * For a complete chat or completions answer, finds what the gateway needs — the usage, and
 * whether anything must change — by scanning bytes instead of parsing the whole document, and
 * renames the model in place. Answers `undefined` for anything unusual (no usage, no choices,
 * `reasoning` to mirror, an unknown model name, a document that does not start like an object), and the
 * caller parses properly. Safe for the same reason as the stream shortcut: an unescaped `"`
 * never occurs inside a JSON string, so `"usage":` can only be a key.
 */
export class JsonShortcut {
  readonly #publicNeedle: Buffer;
  readonly #upstreamNeedle: Buffer | undefined;

  constructor(publicModel: string, upstreamModel: string) {
    this.#publicNeedle = Buffer.from(`"model":${JSON.stringify(publicModel)}`);
    this.#upstreamNeedle = upstreamModel === publicModel ? undefined : Buffer.from(`"model":${JSON.stringify(upstreamModel)}`);
  }

  passThrough(raw: Buffer): { body: Buffer; usage: Usage } | undefined {
    if (raw[0] !== 0x7b /* { */ || !raw.includes(CHOICES_KEY) || raw.includes(REASONING_KEY)) return undefined;
    const usage = extractUsage(raw);
    if (usage === undefined) return undefined;
    if (raw.includes(this.#publicNeedle)) return { body: raw, usage };
    if (this.#upstreamNeedle === undefined) return undefined;
    const at = raw.indexOf(this.#upstreamNeedle);
    if (at === -1) return undefined;
    const body = Buffer.concat([raw.subarray(0, at), this.#publicNeedle, raw.subarray(at + this.#upstreamNeedle.length)]);
    return { body, usage };
  }
}

const REASONING_KEY = Buffer.from('"reasoning":');
/** An answer has choices; a body without them (an error envelope sent with 200) is parsed and judged properly. */
const CHOICES_KEY = Buffer.from('"choices":');
const USAGE_KEY = Buffer.from('"usage":{');

/** The `usage` object, located by its key and matched to its closing brace. */
function extractUsage(raw: Buffer): Usage | undefined {
  const key = raw.lastIndexOf(USAGE_KEY);
  if (key === -1) return undefined;
  const start = key + USAGE_KEY.length - 1;
  let depth = 0;
  let inString = false;
  for (let i = start; i < raw.length; i++) {
    const c = raw[i];
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b) depth++;
    else if (c === 0x7d && --depth === 0) {
      try {
        return readUsage(JSON.parse(raw.toString('utf8', start, i + 1)));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
