import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonShortcut } from './json-shortcut.ts';

const doc = (extra: Record<string, unknown> = {}) =>
  Buffer.from(
    JSON.stringify({
      id: 'c',
      object: 'chat.completion',
      model: 'up',
      choices: [{ index: 0, message: { role: 'assistant', content: 'say "usage":{ } here' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8, prompt_tokens_details: { cached_tokens: 2 } },
      ...extra,
    }),
  );

test('reads usage without parsing the document and renames the model in the bytes', () => {
  const result = new JsonShortcut('Public', 'up').passThrough(doc());
  assert.ok(result);
  assert.equal(result.usage.promptTokens, 3);
  assert.equal(result.usage.completionTokens, 5);
  assert.equal(result.usage.cachedTokens, 2);
  const parsed = JSON.parse(result.body.toString()) as Record<string, unknown>;
  assert.equal(parsed.model, 'Public');
  assert.deepEqual(parsed.choices, JSON.parse(doc().toString()).choices);
});

test('passes the very same buffer when nothing changes', () => {
  const raw = doc({ model: 'Public' });
  assert.equal(new JsonShortcut('Public', 'up').passThrough(raw)?.body, raw);
});

test('declines documents that need a real look', () => {
  const s = new JsonShortcut('Public', 'up');
  assert.equal(s.passThrough(doc({ usage: undefined })), undefined);
  assert.equal(s.passThrough(doc({ model: 'other' })), undefined);
  assert.equal(s.passThrough(Buffer.from('<html>oops</html>')), undefined);
  const withReasoning = JSON.parse(doc().toString());
  withReasoning.choices[0].message.reasoning = 'hmm';
  assert.equal(s.passThrough(Buffer.from(JSON.stringify(withReasoning))), undefined);
});
