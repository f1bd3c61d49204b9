// Exact token counts where the chat, the actions and the Language Model provider budget their context
// (issue 11): the local backend counts with the worker's tokenizer (`tokenize`), the answer budget uses
// the exact count when there is one, and the UTF-8 estimate only when the backend cannot count.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { ChatBackend } from '../../src/chat/chatBackend';
import { RuntimeChatBackend } from '../../src/chat/chatBackend';
import { maxTokensFor, maxTokensForPrompt } from '../../src/chat/chatController';
import { MAX_TOKENIZE_CHARS } from '../../src/shared/protocol';
import { disposeClients, makeClient, tinyModel } from './runtime-helpers';

after(disposeClients);

function fakeBackend(countTokens?: ChatBackend['countTokens']): ChatBackend {
  return {
    status: async () => ({ ready: false, reason: 'fake' }),
    chat: async () => {
      throw new Error('not used');
    },
    countTokens,
  };
}

test('the answer budget leaves the prompt its exact room when the backend counts', async () => {
  const prompt = 'x'.repeat(3000); // estimated 1000 tokens
  assert.equal(maxTokensFor(prompt, 4096, 2048), 2048 - 1000 - 16);
  assert.equal(maxTokensFor(prompt, 4096, 2048, 300), 2048 - 300 - 16);
  const asked: [string, boolean | undefined][] = [];
  const counting = fakeBackend(async (text, parseSpecial) => {
    asked.push([text, parseSpecial]);
    return 300;
  });
  // + 1 for the BOS the worker adds.
  assert.equal(await maxTokensForPrompt(counting, prompt, true, 4096, 2048), 2048 - 301 - 16);
  assert.deepEqual(asked, [[prompt, true]], 'counted as a chat prompt: special token texts parsed');
  assert.equal(await maxTokensForPrompt(counting, prompt, false, 500, 2048), 500, 'never more than wanted');
  // No counter, one that cannot count, one that fails: the estimate.
  for (const b of [fakeBackend(), fakeBackend(async () => undefined), fakeBackend(async () => Promise.reject(new Error('down')))]) {
    assert.equal(await maxTokensForPrompt(b, prompt, true, 4096, 2048), 2048 - 1000 - 16);
  }
});

test("the local backend counts with the worker's tokenizer; too long a text or no model: undefined", async () => {
  const { c } = makeClient({}, { modelPath: tinyModel() });
  await c.start();
  const backend = new RuntimeChatBackend(c, () => 2048);
  const prompt = '<|im_start|>user\nwhat is 1 + 1?<|im_end|>\n<think>\n';
  const exact = await backend.countTokens(prompt, true);
  assert.equal(exact, (await c.request('tokenize', { text: prompt, parseSpecial: true, ids: true })).ids?.length);
  assert.ok((await backend.countTokens('<think>', true)) === 1 && (await backend.countTokens('<think>'))! > 1);
  assert.equal(await backend.countTokens('x'.repeat(MAX_TOKENIZE_CHARS + 1)), undefined);

  const none = makeClient({}, { modelPath: '' });
  await none.c.start();
  assert.equal(await new RuntimeChatBackend(none.c, () => 2048).countTokens('hello'), undefined);
});
