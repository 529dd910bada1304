/**
 * Decides, by scanning the text, whether a stream event can go to the client without being
 * parsed: the common content chunk (no finish, no usage, no error, no `reasoning` to mirror,
 * the public model name or the upstream's, replaced in place). The needles are safe because
 * an unescaped `"` cannot occur inside a JSON string, so `"error":` can only be a key.
 * Anything unusual — other spacing, a finish chunk, usage — answers `undefined`, and the
 * caller parses the event properly.
 */
export class EventShortcut {
  readonly #publicNeedle: string;
  readonly #upstreamNeedle: string | undefined;
  readonly #includeUsage: boolean;

  constructor(publicModel: string, upstreamModel: string, includeUsage: boolean) {
    this.#publicNeedle = `"model":${JSON.stringify(publicModel)}`;
    this.#upstreamNeedle = upstreamModel === publicModel ? undefined : `"model":${JSON.stringify(upstreamModel)}`;
    this.#includeUsage = includeUsage;
  }

  /** The payload to send as is, or undefined when the event must be parsed. */
  passThrough(data: string): string | undefined {
    if (!data.includes('"finish_reason":null')) return undefined;
    if (data.includes('"finish_reason":"') || data.includes('"finish_reason": ') || data.includes('"error":') || data.includes('"reasoning":')) {
      return undefined;
    }
    let out = data;
    const usage = out.indexOf('"usage":');
    if (usage !== -1) {
      if (!out.startsWith('null', usage + 8)) return undefined;
      // The upstream added it because the gateway asked for usage; the client did not.
      if (!this.#includeUsage) {
        if (out.charCodeAt(usage - 1) !== 44 /* , */) return undefined;
        out = out.slice(0, usage - 1) + out.slice(usage + 12);
      }
    } else if (this.#includeUsage) {
      if (out.charCodeAt(out.length - 1) !== 125 /* } */) return undefined;
      out = `${out.slice(0, -1)},"usage":null}`;
    }
    if (!out.includes(this.#publicNeedle)) {
      if (this.#upstreamNeedle === undefined || !out.includes(this.#upstreamNeedle)) return undefined;
      out = out.replace(this.#upstreamNeedle, this.#publicNeedle);
    }
    return out;
  }
}
