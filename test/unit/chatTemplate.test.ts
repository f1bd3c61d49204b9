// Chat templates rendered with @huggingface/jinja: Nemotron Nano 2 and Granite 4.0 (the copies in llama.cpp's
// models/templates/ of the tree shared/docs/tokenizers-and-templates.md uses, in test/fixtures/chat-templates/),
// ChatML, and templates that fail. The renders listed on that page must come out byte for byte.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { buildChatPrompt, ChatModelInfo, fenceFor, userMessageWithContext } from '../../src/shared/chatPrompt';
import {
  assistantTurnEnd,
  ChatMessage,
  ChatTemplate,
  ChatTemplateError,
  CHATML_TEMPLATE,
  stripLeadingBos,
  withThinkingSwitch,
} from '../../src/shared/chatTemplate';
import { budgetResumePrefill } from '../../src/shared/reasoning';

const fixtures = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'chat-templates');
const read = (f: string) => fs.readFileSync(path.join(fixtures, f), 'utf8');
const NANO = new ChatTemplate(read('nemotron-nano-v2.jinja'), 'NVIDIA-Nemotron-Nano-v2');
const GRANITE = new ChatTemplate(read('granite-4.0.jinja'), 'granite-4.0');
const CHATML = new ChatTemplate(CHATML_TEMPLATE, 'ChatML');

test('Nano 2: the renders of the docs page, byte for byte', () => {
  assert.equal(
    NANO.render({ messages: [{ role: 'user', content: 'Hi' }], addGenerationPrompt: true }),
    '<SPECIAL_10>System\n\n\n<SPECIAL_11>User\nHi\n<SPECIAL_11>Assistant\n<think>\n',
  );
  assert.equal(
    NANO.render({
      messages: [
        { role: 'system', content: 'You are X. /no_think' },
        { role: 'user', content: 'Hi' },
      ],
      addGenerationPrompt: true,
    }),
    '<SPECIAL_10>System\nYou are X.\n\n<SPECIAL_11>User\nHi\n<SPECIAL_11>Assistant\n<think></think>',
  );
});

test('Nano 2: the thinking switch — last hit wins, flags removed, "/think" is not in "/no_think"', () => {
  const render = (messages: ChatMessage[]) => NANO.render({ messages, addGenerationPrompt: true });
  assert.ok(render([{ role: 'system', content: '/no_think' }, { role: 'user', content: 'Q /think' }]).endsWith('User\nQ\n<SPECIAL_11>Assistant\n<think>\n'));
  assert.ok(render([{ role: 'system', content: '/think' }, { role: 'user', content: 'Q /no_think' }]).endsWith('<think></think>'));
  assert.ok(render([{ role: 'user', content: 'only /no_think here' }]).includes('User\nonly  here\n'));
  assert.equal(NANO.thinkingSwitch, 'system-flag');
  assert.equal(NANO.knowsThinkTags, true);
  // withThinkingSwitch puts the flag into the system message (adding one when there is none)
  assert.deepEqual(withThinkingSwitch(NANO, [{ role: 'user', content: 'Hi' }], false), [
    { role: 'system', content: '/no_think' },
    { role: 'user', content: 'Hi' },
  ]);
  assert.deepEqual(withThinkingSwitch(NANO, [{ role: 'system', content: 'S' }], true), [{ role: 'system', content: 'S /think' }]);
  assert.deepEqual(withThinkingSwitch(CHATML, [{ role: 'user', content: 'Hi' }], false), [{ role: 'user', content: 'Hi' }]);
});

test('Nano 2: history keeps only the answer after </think>; tool results become a User turn', () => {
  const out = NANO.render({
    messages: [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'secret reasoning</think>A1' },
      { role: 'user', content: 'Q2' },
    ],
    addGenerationPrompt: true,
  });
  assert.equal(out, '<SPECIAL_10>System\n\n\n<SPECIAL_11>User\nHi\n<SPECIAL_11>Assistant\nA1\n<SPECIAL_12>\n<SPECIAL_11>User\nQ2\n<SPECIAL_11>Assistant\n<think>\n');
  const tools = NANO.render({
    messages: [
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: '', tool_calls: [{ function: { name: 'w', arguments: { city: 'Oslo' } } }] },
      { role: 'tool', content: '"sunny"' },
      { role: 'tool', content: '"cold"' },
    ],
    tools: [{ type: 'function', function: { name: 'w', parameters: {} } }],
    addGenerationPrompt: true,
  });
  assert.ok(tools.includes('<AVAILABLE_TOOLS>[{"name": "w", "parameters": {}}]</AVAILABLE_TOOLS>'), tools);
  assert.ok(tools.includes('<TOOLCALL>[{{"name": "tool_name1"'), 'doubled braces are literal text');
  assert.ok(tools.includes('<SPECIAL_11>Assistant\n<TOOLCALL>[{"name": "w", "arguments": {"city": "Oslo"}}]</TOOLCALL>\n<SPECIAL_12>\n'), tools);
  assert.ok(tools.includes('<SPECIAL_11>User\n<TOOL_RESPONSE>["sunny", "cold"]</TOOL_RESPONSE><SPECIAL_11>Assistant\n<think>\n'), tools);
});

test('Nano 2: continue_final_message resumes a budget-cut trace as NVIDIA\'s client does', () => {
  const prefill = budgetResumePrefill('Let me count the vowels');
  assert.equal(prefill, 'Let me count the vowels.\n</think>\n\n');
  const messages: ChatMessage[] = [
    { role: 'user', content: 'Hi' },
    { role: 'assistant', content: prefill },
  ];
  // The template strips the prefill; without continue_final_message the turn is closed.
  assert.equal(
    NANO.render({ messages, addGenerationPrompt: false, continueFinalMessage: true }),
    '<SPECIAL_10>System\n\n\n<SPECIAL_11>User\nHi\n<SPECIAL_11>Assistant\n<think>\nLet me count the vowels.\n</think>',
  );
  assert.equal(
    NANO.render({ messages, addGenerationPrompt: false, continueFinalMessage: false }),
    '<SPECIAL_10>System\n\n\n<SPECIAL_11>User\nHi\n<SPECIAL_11>Assistant\n<think>\nLet me count the vowels.\n</think>\n<SPECIAL_12>\n',
  );
  assert.equal(
    NANO.render({ messages, addGenerationPrompt: false }),
    '<SPECIAL_10>System\n\n\n<SPECIAL_11>User\nHi\n<SPECIAL_11>Assistant\n<think>\nLet me count the vowels.\n</think>\n<SPECIAL_12>\n',
  );
  assert.equal(budgetResumePrefill('done</think>\n\nAnswer'), 'done</think>\n\nAnswer', 'a closed trace gets no bridge');
});

test('Granite 4.0: default system message, generation prompt without newline, content lists, tools', () => {
  assert.equal(
    GRANITE.render({ messages: [{ role: 'user', content: 'Hi' }], addGenerationPrompt: true }),
    '<|start_of_role|>system<|end_of_role|>You are a helpful assistant. Please ensure responses are professional, accurate, and safe.<|end_of_text|>\n' +
      '<|start_of_role|>user<|end_of_role|>Hi<|end_of_text|>\n<|start_of_role|>assistant<|end_of_role|>',
  );
  assert.equal(
    GRANITE.render({
      messages: [
        { role: 'system', content: 'S' },
        { role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] as unknown as string },
        { role: 'assistant', content: 'x', tool_calls: [{ function: { name: 'f', arguments: { a: 1 } } }] },
        { role: 'tool', content: 'r1' },
        { role: 'tool', content: 'r2' },
      ],
      addGenerationPrompt: false,
    }),
    '<|start_of_role|>system<|end_of_role|>S<|end_of_text|>\n<|start_of_role|>user<|end_of_role|>a\nb<|end_of_text|>\n' +
      '<|start_of_role|>assistant<|end_of_role|>x\n<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call><|end_of_text|>\n' +
      '<|start_of_role|>user<|end_of_role|>\n<tool_response>\nr1\n</tool_response>\n<tool_response>\nr2\n</tool_response><|end_of_text|>\n',
  );
  const withTools = GRANITE.render({ messages: [{ role: 'user', content: 'Hi' }], tools: [{ name: 't' }], addGenerationPrompt: true });
  assert.ok(withTools.includes('<tools>\n{"name": "t"}\n</tools>'), withTools);
  assert.ok(!withTools.includes('Please ensure responses'), 'tools replace the default system message');
  assert.equal(GRANITE.thinkingSwitch, 'none');
  assert.equal(GRANITE.knowsThinkTags, false);
});

test('ChatML, BOS stripping, end-of-turn markers', () => {
  assert.equal(
    CHATML.render({
      messages: [
        { role: 'system', content: 'S' },
        { role: 'user', content: 'Hi' },
      ],
      addGenerationPrompt: true,
    }),
    '<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
  );
  assert.equal(stripLeadingBos('<s>[INST]', '<s>', true), '[INST]');
  assert.equal(stripLeadingBos('<s>[INST]', '<s>', false), '<s>[INST]');
  assert.equal(stripLeadingBos('[INST]', '', true), '[INST]');
  assert.equal(assistantTurnEnd(NANO), '<SPECIAL_12>');
  assert.equal(assistantTurnEnd(CHATML), '<|im_end|>');
  assert.equal(assistantTurnEnd(GRANITE), '<|end_of_text|>');
  const bosTemplate = new ChatTemplate("{{ bos_token }}{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}", 'bos test');
  assert.equal(bosTemplate.render({ messages: [{ role: 'user', content: 'x' }], addGenerationPrompt: false, bosToken: '<s>', eosToken: '</s>' }), '<s>x</s>');
});

test('a template that fails says which template and what failed', () => {
  assert.throws(
    () => new ChatTemplate('{% for m in messages %}{{ m.content }', 'broken.gguf'),
    (e: unknown) => e instanceof ChatTemplateError && e.stage === 'parse' && /chat template of broken\.gguf does not parse: /.test(e.message),
  );
  const raising = new ChatTemplate("{% if messages[0].role != 'user' %}{{ raise_exception('Conversation roles must alternate') }}{% endif %}", 'strict.gguf');
  assert.throws(
    () => raising.render({ messages: [{ role: 'system', content: 'x' }], addGenerationPrompt: true }),
    /chat template of strict\.gguf failed to render: Conversation roles must alternate \(messages: system\)/,
  );
  const badCall = new ChatTemplate('{{ messages[0].content.nosuchmethod() }}', 'odd.gguf');
  assert.throws(() => badCall.render({ messages: [{ role: 'user', content: 'x' }], addGenerationPrompt: true }), /chat template of odd\.gguf failed to render: .+/);
});

const nanoModel: ChatModelInfo = {
  name: 'nano.gguf',
  chatTemplate: read('nemotron-nano-v2.jinja'),
  addBos: true,
  bosText: '<s>',
  hasThinkTags: true,
  contextLength: 4096,
};

test('buildChatPrompt: context in the user message, history, switch, thinking parameters', () => {
  const on = buildChatPrompt({
    model: nanoModel,
    history: [{ user: 'Q1', answer: 'A1' }],
    text: 'Explain',
    context: [{ kind: 'selection', path: 'src/a.ts', languageId: 'typescript', text: 'let x = 1;', startLine: 3, endLine: 3 }],
    thinking: true,
    budget: 64,
    systemPrompt: 'S',
  });
  assert.equal(
    on.prompt,
    '<SPECIAL_10>System\nS\n\n<SPECIAL_11>User\nQ1\n<SPECIAL_11>Assistant\nA1\n<SPECIAL_12>\n' +
      '<SPECIAL_11>User\nSelected code from src/a.ts (lines 3-3):\n```typescript\nlet x = 1;\n```\n\nExplain\n<SPECIAL_11>Assistant\n<think>\n',
  );
  assert.deepEqual(on.thinking, { startsInside: true, open: '<think>', close: '</think>', budget: 64, inject: '.\n</think>\n\n' });
  assert.deepEqual(on.stop, ['<SPECIAL_12>']);
  assert.equal(on.addBos, true);
  assert.equal(on.templateSource, 'model');
  const off = buildChatPrompt({ model: nanoModel, history: [], text: 'Hi', context: [], thinking: false, budget: 64, systemPrompt: 'S' });
  assert.ok(off.prompt.endsWith('<SPECIAL_11>Assistant\n<think></think>'));
  assert.equal(off.thinking?.startsInside, false);
  assert.equal(off.thinking?.budget, 0, 'no budget when the trace is not opened');
  const plain = buildChatPrompt({ model: { ...nanoModel, chatTemplate: null, hasThinkTags: false }, history: [], text: 'Hi', context: [], thinking: true, budget: 5, systemPrompt: 'S' });
  assert.equal(plain.prompt, '<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
  assert.equal(plain.thinking, undefined);
  assert.equal(plain.templateSource, 'chatml');
});

test('context blocks use a fence longer than any backtick run inside', () => {
  assert.equal(fenceFor('no ticks'), '```');
  assert.equal(fenceFor('a ```` b'), '`````');
  const m = userMessageWithContext('Q', [{ kind: 'file', path: 'README.md', languageId: 'markdown', text: '```js\nx\n```', truncated: true }]);
  assert.equal(m, 'File README.md (truncated):\n````markdown\n```js\nx\n```\n````\n\nQ');
});
