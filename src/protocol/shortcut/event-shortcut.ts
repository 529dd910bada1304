/**
 * Decides, by scanning the text, whether a stream event can go to the client without being
 * parsed: the common content chunk (no finish, no usage, no error, no `reasoning` to mirror,
 * the public model name or the upstream's, replaced in place). The needles are safe because
 * an unescaped `"` cannot occur inside a JSON string, so `"error":` can only be a key.
 * Anything unusual — other spacing, a finish chunk, usage — answers `undefined`, and the
 * caller parses the event properly.
 */
/**
 * The keys the decision depends on, told apart after a match by the key's last letter:
 * finish_reasoN, erroR, reasoninG, usagE, modeL. One scan of the event finds them all.
 */
const KEYS = /"(?:finish_reason|error|reasoning|usage|model)":/g;
const USAGE_NULL = ',"usage":null';

export class EventShortcut {
  /** `"…"`: the public model name as a JSON string, as it follows `"model":`. */
  readonly #publicName: string;
  readonly #upstreamName: string | undefined;
  readonly #includeUsage: boolean;

  constructor(publicModel: string, upstreamModel: string, includeUsage: boolean) {
    this.#publicName = JSON.stringify(publicModel);
    this.#upstreamName = upstreamModel === publicModel ? undefined : JSON.stringify(upstreamModel);
    this.#includeUsage = includeUsage;
  }

  /** The payload to send as is, or undefined when the event must be parsed. */
  passThrough(data: string): string | undefined {
    let open = false;
    let usageAt = -1;
    let modelAt = -1;
    KEYS.lastIndex = 0;
    while (KEYS.test(data)) {
      const value = KEYS.lastIndex;
      switch (data.charCodeAt(value - 3)) {
        case 110: // finish_reason: only `null` (still generating) goes by; a reason needs the finish split
          if (!data.startsWith('null', value)) return undefined;
          open = true;
          break;
        case 101: // usage: only `null` goes by
          if (usageAt !== -1 || !data.startsWith('null', value)) return undefined;
          usageAt = value - 8;
          break;
        case 108: // model
          if (modelAt !== -1) return undefined;
          modelAt = value;
          break;
        default: // error, reasoning
          return undefined;
      }
    }
    if (!open || modelAt === -1) return undefined;
    if (data.startsWith(this.#publicName, modelAt)) return this.#withUsage(data, usageAt);
    // The upstream's name: renamed in place; a "usage" after it moves by the difference in length.
    const upstream = this.#upstreamName;
    if (upstream === undefined || !data.startsWith(upstream, modelAt)) return undefined;
    const renamed = data.slice(0, modelAt) + this.#publicName + data.slice(modelAt + upstream.length);
    return this.#withUsage(renamed, usageAt < modelAt ? usageAt : usageAt + this.#publicName.length - upstream.length);
  }

  /** `"usage":null` kept, dropped or added, as the client asked (`at`: where `"usage"` starts, or -1). */
  #withUsage(text: string, at: number): string | undefined {
    if (at !== -1) {
      if (this.#includeUsage) return text;
      // The upstream added it because the gateway asked for usage; the client did not.
      if (text.charCodeAt(at - 1) !== 44 /* , */) return undefined;
      return text.slice(0, at - 1) + text.slice(at - 1 + USAGE_NULL.length);
    }
    if (!this.#includeUsage) return text;
    if (text.charCodeAt(text.length - 1) !== 125 /* } */) return undefined;
    return `${text.slice(0, -1)}${USAGE_NULL}}`;
  }
}
