import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countTextTokens } from '../../protocol/tokens.ts';
import { WORDS, baseSeed, choiceRng, hashString, mulberry32, pickWord, piece } from './text.ts';

test('the vocabulary has a few hundred distinct words', () => {
  assert.ok(WORDS.length >= 300, `only ${WORDS.length} words`);
  assert.equal(new Set(WORDS).size, WORDS.length);
});

test('every word is exactly one cl100k token, alone and after a space', () => {
  for (const word of WORDS) {
    assert.equal(countTextTokens(word), 1, `'${word}'`);
    assert.equal(countTextTokens(` ${word}`), 1, `' ${word}'`);
  }
});

test('a text of N generated words counts as exactly N tokens', () => {
  for (let seed = 0; seed < 50; seed++) {
    const rng = mulberry32(seed);
    const n = 1 + Math.floor(rng() * 200);
    let text = '';
    for (let i = 0; i < n; i++) text += piece(pickWord(rng), i);
    assert.equal(countTextTokens(text), n, text);
  }
});

test('the PRNG is deterministic, in [0, 1), and differs per seed', () => {
  const a = mulberry32(42);
  const b = mulberry32(42);
  const c = mulberry32(43);
  const xs = Array.from({ length: 100 }, () => a());
  assert.deepEqual(xs, Array.from({ length: 100 }, () => b()));
  assert.notDeepEqual(xs, Array.from({ length: 100 }, () => c()));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
});

test('seeds: an explicit seed wins over the prompt, and each choice has its own stream', () => {
  assert.equal(baseSeed(7, 'one prompt'), baseSeed(7, 'another prompt'));
  assert.notEqual(baseSeed(undefined, 'one prompt'), baseSeed(undefined, 'another prompt'));
  assert.equal(baseSeed(undefined, 'x'), hashString('x'));
  // Seeds beyond 32 bits still matter.
  assert.notEqual(baseSeed(2 ** 40, ''), baseSeed(2 ** 40 + 1, ''));
  assert.notEqual(choiceRng(1, 0)(), choiceRng(1, 1)());
});
