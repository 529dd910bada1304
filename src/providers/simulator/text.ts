/**
 * Deterministic text: a seeded PRNG and a vocabulary in which every word is exactly one cl100k
 * token, alone or after a space. A text built as "w1 w2 … wN" therefore counts as N tokens, so
 * the simulator's usage equals what the gateway counts when it has to count itself.
 */

export type Rng = () => number;

/** mulberry32: tiny, fast, and good enough to make answers look varied. Returns [0, 1). */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a over UTF-16 code units: a stable 32-bit seed from any text. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The request's `seed` when it gave one (any integer, even beyond 32 bits), else the prompt's hash. */
export function baseSeed(seed: unknown, promptText: string): number {
  return typeof seed === 'number' && Number.isFinite(seed) ? hashString(String(seed)) : hashString(promptText);
}

/** Choice i of a request draws from its own stream, so n>1 answers differ. */
export function choiceRng(base: number, index: number): Rng {
  return mulberry32((base + index) >>> 0);
}

/** Logprobs draw from their own stream, so asking for them does not change the text. */
export function logprobRng(base: number, index: number): Rng {
  return mulberry32(((base ^ 0x9e3779b9) + index) >>> 0);
}

/** Default answer length: 16..48 tokens. */
export function defaultLength(rng: Rng): number {
  return 16 + Math.floor(rng() * 33);
}

export function pickWord(rng: Rng): string {
  return WORDS[Math.floor(rng() * WORDS.length)]!;
}

/** The i-th piece of a text: words are separated by one space, the first has none. */
export function piece(word: string, position: number): string {
  return position === 0 ? word : ` ${word}`;
}

/** A plausible log-probability (≤ 0) for a sampled token. */
export function sampleLogprob(rng: Rng): number {
  return -Math.round(rng() * rng() * 4000) / 1000;
}

export const WORDS: readonly string[] = Object.freeze([
  'the', 'of', 'and', 'to', 'in', 'is', 'that', 'for', 'it', 'as', 'was', 'with', 'be', 'by', 'on',
  'not', 'he', 'this', 'are', 'or', 'his', 'from', 'at', 'which', 'but', 'have', 'an', 'they',
  'you', 'were', 'her', 'she', 'there', 'one', 'all', 'we', 'their', 'has', 'been', 'if', 'more',
  'when', 'will', 'would', 'who', 'so', 'no', 'about', 'up', 'out', 'what', 'said', 'them', 'time',
  'can', 'only', 'its', 'into', 'other', 'some', 'could', 'these', 'may', 'then', 'two', 'first',
  'any', 'like', 'now', 'my', 'over', 'such', 'our', 'man', 'me', 'even', 'most', 'made', 'after',
  'also', 'did', 'many', 'before', 'must', 'through', 'back', 'years', 'where', 'much', 'your',
  'way', 'well', 'down', 'should', 'because', 'each', 'just', 'those', 'people', 'how', 'too',
  'little', 'state', 'good', 'very', 'make', 'world', 'still', 'own', 'see', 'men', 'work', 'long',
  'get', 'here', 'between', 'both', 'life', 'being', 'under', 'never', 'day', 'same', 'another',
  'know', 'while', 'last', 'might', 'great', 'old', 'year', 'off', 'come', 'since', 'against',
  'go', 'came', 'right', 'used', 'take', 'three', 'states', 'few', 'house', 'use', 'during',
  'without', 'again', 'place', 'around', 'however', 'home', 'small', 'found', 'thought', 'went',
  'say', 'part', 'once', 'general', 'high', 'upon', 'school', 'every', 'does', 'got', 'left',
  'number', 'course', 'until', 'always', 'away', 'something', 'fact', 'though', 'water', 'less',
  'public', 'put', 'think', 'almost', 'hand', 'far', 'took', 'head', 'yet', 'government', 'system',
  'better', 'set', 'nothing', 'night', 'end', 'why', 'called', 'find', 'look', 'going', 'later',
  'point', 'city', 'next', 'program', 'business', 'give', 'group', 'young', 'days', 'let', 'room',
  'side', 'social', 'given', 'present', 'order', 'national', 'possible', 'rather', 'second',
  'face', 'among', 'form', 'important', 'often', 'things', 'early', 'white', 'case', 'large',
  'big', 'need', 'four', 'within', 'felt', 'along', 'children', 'best', 'ever', 'least', 'power',
  'development', 'light', 'thing', 'family', 'interest', 'want', 'members', 'mind', 'country',
  'area', 'others', 'done', 'turned', 'although', 'open', 'service', 'kind', 'problem',
  'different', 'door', 'thus', 'help', 'sense', 'means', 'whole', 'matter', 'perhaps', 'times',
  'law', 'human', 'line', 'above', 'name', 'example', 'action', 'company', 'hands', 'local',
  'show', 'whether', 'five', 'history', 'today', 'either', 'act', 'taken', 'past', 'quite',
  'anything', 'seen', 'having', 'week', 'experience', 'body', 'word', 'half', 'really', 'field',
  'car', 'words', 'already', 'information', 'tell', 'college', 'shall', 'money', 'period', 'held',
  'keep', 'sure', 'probably', 'free', 'real', 'cannot', 'political', 'air', 'question', 'making',
  'office', 'whose', 'special', 'major', 'heard', 'problems', 'study', 'ago', 'moment',
  'available', 'known', 'result', 'street', 'economic', 'position', 'reason', 'change', 'south',
  'board', 'individual', 'job', 'areas', 'west', 'close', 'turn', 'love', 'community', 'true',
  'court', 'force', 'full', 'private', 'future', 'voice', 'center', 'common', 'care', 'policy',
  'students', 'story', 'low', 'process', 'education',
]);
