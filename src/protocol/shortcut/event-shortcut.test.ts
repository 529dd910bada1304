import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventShortcut } from './event-shortcut.ts';

const content = '{"id":"c","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"content":"a \\"error\\": b"},"logprobs":null,"finish_reason":null}]}';

test('passes a plain content chunk, renaming the model by text', () => {
  const out = new EventShortcut('Public', 'up', false).passThrough(content);
  assert.equal(out, content.replace('"model":"up"', '"model":"Public"'));
  assert.deepEqual(JSON.parse(out!).choices, JSON.parse(content).choices);
});

test('adds usage:null when the client asked for usage', () => {
  const out = new EventShortcut('Public', 'up', true).passThrough(content);
  assert.equal(JSON.parse(out!).usage, null);
});

test('refuses anything that needs a real look', () => {
  const s = new EventShortcut('Public', 'up', false);
  assert.equal(s.passThrough(content.replace('"finish_reason":null', '"finish_reason":"stop"')), undefined);
  assert.equal(s.passThrough(content.replace('"finish_reason":null', '"finish_reason": null')), undefined);
  assert.equal(s.passThrough(content.replace('"content"', '"reasoning"')), undefined);
  assert.equal(s.passThrough(content.replace('}]}', '}],"usage":{"prompt_tokens":1}}')), undefined);
  assert.equal(s.passThrough(content.replace('"model":"up"', '"model":"other"')), undefined);
  assert.equal(s.passThrough('{"error":{"message":"x"},"finish_reason":null}'), undefined);
});

test('drops the usage:null an upstream added only because the gateway asked for usage', () => {
  const withNull = content.replace('}]}', '}],"usage":null}');
  const out = new EventShortcut('Public', 'up', false).passThrough(withNull);
  assert.equal(out, content.replace('"model":"up"', '"model":"Public"'));
  assert.equal(new EventShortcut('Public', 'up', true).passThrough(withNull), withNull.replace('"model":"up"', '"model":"Public"'));
});

test('renames and drops usage together, whichever key comes first; a second model key is refused', () => {
  const usageFirst = '{"id":"c","usage":null,"model":"up","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}';
  assert.equal(new EventShortcut('Public', 'up', false).passThrough(usageFirst), '{"id":"c","usage":null,"model":"Public","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}'.replace(',"usage":null', ''));
  const modelFirst = content.replace('}]}', '}],"usage":null}');
  const out = new EventShortcut('A-much-longer-public-name', 'up', false).passThrough(modelFirst);
  assert.deepEqual(JSON.parse(out!), { ...JSON.parse(content), model: 'A-much-longer-public-name' });
  assert.equal(new EventShortcut('Public', 'up', false).passThrough(content.replace('"choices"', '"model":"up","choices"')), undefined);
  assert.equal(new EventShortcut('Public', 'up', false).passThrough(content.replace('"model":"up"', '"model":"up-and-more"')), undefined, 'a name that only starts like the upstream one');
});
