// Tokenizer conformance: our `hybrid tokenize` against llama.cpp (through node-llama-cpp, the build of
// llama.cpp v0.5.0 it ships) on real-sized vocabularies shaped like Nemotron-H (pre pixtral and tekken) and
// Granite 4.0 (pre dbrx), over every item of test/corpus/tokenizer/, with and without special-token
// parsing. Token ids must be equal one for one; so must the detokenized text (llama_detokenize, clean-up
// of spaces included), and where no clean-up applies the text must come back unchanged. Bytes that are not
// UTF-8 cannot travel through a JavaScript string, so every item is also compared as raw bytes against
// llama.cpp's own llama_tokenize (a small C++ program built against node-llama-cpp's libllama, llama-raw.ts).
//
// node-llama-cpp is a devDependency. Without it this test fails (set HYBRID_SKIP_PEER=1 to skip it).
// HYBRID_NODE_LLAMA_CPP=/some/node_modules uses an install elsewhere.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { hybridCli, runSync } from '../fixtures/hybrid-cli';
import { vocabFixtures, writeVocabGguf, type VocabFixture } from '../fixtures/tokenizer/vocabs';
import { loadCorpus, llamaCppReading, type CorpusItem } from '../fixtures/tokenizer/corpus';
import { buildRawTokenizer, peerNodeModules, rawTokenize, type RawTokenizer } from './llama-raw';

const SKIP_PEER = process.env.HYBRID_SKIP_PEER === '1';

// tsc turns import() into require(), which cannot load node-llama-cpp (an ES module); keep a real import().
const importEsm = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<any>;

async function loadPeer(): Promise<{ module?: any; error?: string }> {
  const specifier = process.env.HYBRID_NODE_LLAMA_CPP
    ? pathToFileURL(path.join(peerNodeModules(), 'node-llama-cpp', 'dist', 'index.js')).href
    : 'node-llama-cpp';
  try {
    return { module: await importEsm(specifier) };
  } catch (e) {
    return { error: `cannot load node-llama-cpp (${specifier}): ${(e as Error).message}` };
  }
}

interface Ours {
  tokens: number[];
  detok: { text: string; bytes?: string };
}

/** Tokenizes every item in one run of the CLI (--batch: one hex line per item). */
function ours(cli: string, gguf: string, items: CorpusItem[], special: boolean): Ours[] {
  const list = path.join(os.tmpdir(), `hybrid-tok-${process.pid}-${special ? 's' : 'p'}.txt`);
  fs.writeFileSync(list, items.map((i) => i.bytes.toString('hex')).join('\n') + '\n');
  try {
    const args = ['tokenize', gguf, '--batch', list, '--no-bos', '--json', ...(special ? ['--special'] : [])];
    const r = runSync(cli, args);
    assert.equal(r.status, 0, `hybrid ${args.join(' ')} failed: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as Ours[];
    assert.equal(out.length, items.length);
    return out;
  } finally {
    fs.rmSync(list, { force: true });
  }
}

function firstDiff(a: number[], b: number[]): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const win = (x: number[]) => JSON.stringify(x.slice(Math.max(0, i - 2), i + 4));
  return `at token ${i}: ours ${win(a)} llama.cpp ${win(b)} (lengths ${a.length} / ${b.length})`;
}

let cli: string | undefined;
let peer: { module?: any; error?: string } = {};
let llama: any;
let raw: RawTokenizer | undefined;
let rawError = '';
let corpus: CorpusItem[] = [];
const fixtures: Array<{ f: VocabFixture; gguf: string }> = [];

before(async () => {
  cli = hybridCli();
  corpus = loadCorpus();
  for (const f of vocabFixtures()) fixtures.push({ f, gguf: writeVocabGguf(f) });
  if (!SKIP_PEER) {
    peer = await loadPeer();
    if (peer.module) {
      llama = await peer.module.getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: 'error' });
      try {
        raw = buildRawTokenizer();
      } catch (e) {
        rawError = (e as Error).message;
      }
    }
  }
});

after(async () => {
  await llama?.dispose?.();
});

test('tokenizer conformance prerequisites: hybrid CLI and node-llama-cpp', (t) => {
  assert.ok(cli, 'the hybrid CLI is not built (npm run build:native, or set HYBRID_CLI)');
  if (SKIP_PEER) {
    t.skip('HYBRID_SKIP_PEER=1: llama.cpp comparisons skipped');
    return;
  }
  assert.ok(peer.module, `${peer.error}\nnode-llama-cpp is a devDependency: run npm install (or HYBRID_SKIP_PEER=1 to skip)`);
  const bytes = corpus.reduce((n, i) => n + i.bytes.length, 0);
  t.diagnostic(`corpus: ${corpus.length} items, ${bytes} bytes`);
});

for (const name of ['nemotron-pixtral', 'nemotron-tekken', 'granite-dbrx']) {
  const fixture = () => {
    const x = fixtures.find((y) => y.f.name === name);
    assert.ok(x, `no fixture ${name}`);
    return x;
  };
  let model: any;
  const peerModel = async () => {
    if (!model) model = await llama.loadModel({ modelPath: fixture().gguf, vocabOnly: true });
    return model;
  };

  test(`${name}: special ids, EOG set and add_bos match llama.cpp`, { skip: SKIP_PEER }, async () => {
    assert.ok(cli && llama, 'prerequisites missing (see the prerequisites test)');
    const { gguf } = fixture();
    const r = runSync(cli, ['tokenize', gguf, '--info', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const info = JSON.parse(r.stdout);
    const m = await peerModel();
    const nullable = (v: number | null | undefined) => (v == null || v < 0 ? null : v);
    assert.equal(info.n_tokens, fixture().f.spec.tokens.length);
    assert.equal(info.bos, nullable(m.tokens.bos));
    assert.equal(info.eos, nullable(m.tokens.eos));
    assert.equal(info.eot, nullable(m.tokens.eot));
    assert.equal(info.fim_pre, nullable(m.tokens.infill.prefix));
    assert.equal(info.fim_mid, nullable(m.tokens.infill.middle));
    assert.equal(info.fim_suf, nullable(m.tokens.infill.suffix));
    assert.equal(info.add_bos, m.tokens.shouldPrependBosToken);
    const eog: number[] = [];
    for (let id = 0; id < info.n_tokens; id++) if (m.isEogToken(id)) eog.push(id);
    assert.deepEqual(info.eog, eog);
  });

  for (const special of [false, true]) {
    test(`${name}: tokens equal llama.cpp's (parse_special=${special}), and detokenize round trips`, { skip: SKIP_PEER }, async (t) => {
      assert.ok(cli && llama, 'prerequisites missing (see the prerequisites test)');
      const { f, gguf } = fixture();
      const m = await peerModel();
      const got = ours(cli, gguf, corpus, special);
      const problems: string[] = [];
      let matched = 0;
      let comparable = 0;
      let nTokens = 0;
      for (let i = 0; i < corpus.length; i++) {
        const item = corpus[i];
        nTokens += got[i].tokens.length;
        const text = llamaCppReading(item.bytes);
        if (text === undefined) continue; // bytes llama.cpp reads as a surrogate: not expressible through JS
        comparable++;
        const want: number[] = Array.from(m.tokenize(text, special));
        if (JSON.stringify(got[i].tokens) !== JSON.stringify(want)) {
          problems.push(`${item.name}: tokens differ ${firstDiff(got[i].tokens, want)}`);
          continue;
        }
        matched++;
        const peerText: string = m.detokenize(want, special);
        if (got[i].detok.text !== peerText) {
          problems.push(`${item.name}: detokenized text differs: ours ${JSON.stringify(got[i].detok.text.slice(0, 80))} llama.cpp ${JSON.stringify(peerText.slice(0, 80))}`);
        }
        // Without clean-up of spaces (tekken), valid text comes back byte for byte.
        if (f.spec.pre === 'tekken' && item.valid && got[i].detok.text !== item.bytes.toString('utf8')) {
          problems.push(`${item.name}: detokenize(tokenize(text)) is not the text`);
        }
      }
      t.diagnostic(`${name} parse_special=${special}: ${matched}/${comparable} items equal token for token (${corpus.length} items, ${nTokens} tokens)`);
      assert.equal(problems.length, 0, problems.slice(0, 20).join('\n'));
    });

    test(`${name}: raw bytes (invalid UTF-8 included) tokenize as llama_tokenize does (parse_special=${special})`, { skip: SKIP_PEER }, (t) => {
      assert.ok(cli && llama, 'prerequisites missing (see the prerequisites test)');
      assert.ok(raw, `cannot build the raw llama_tokenize helper: ${rawError}`);
      const { gguf } = fixture();
      const got = ours(cli, gguf, corpus, special);
      const want = rawTokenize(raw, gguf, corpus.map((i) => i.bytes), special);
      const problems: string[] = [];
      corpus.forEach((item, i) => {
        if (JSON.stringify(got[i].tokens) !== JSON.stringify(want[i])) problems.push(`${item.name}: ${firstDiff(got[i].tokens, want[i])}`);
      });
      const invalid = corpus.filter((i) => !i.valid).length;
      t.diagnostic(`${name} parse_special=${special}: ${corpus.length - problems.length}/${corpus.length} items equal as raw bytes (${invalid} not valid UTF-8)`);
      assert.equal(problems.length, 0, problems.slice(0, 20).join('\n'));
    });
  }
}

test('encode speed: a 100 KB code file (dbrx and pixtral vocabularies)', { skip: !hybridCli() }, (t) => {
  const big = corpus.find((i) => i.name === 'all-code-100k');
  assert.ok(big && cli);
  const file = path.join(os.tmpdir(), `hybrid-tok-speed-${process.pid}.txt`);
  fs.writeFileSync(file, big.bytes);
  try {
    for (const { f, gguf } of fixtures.filter((x) => x.f.name !== 'nemotron-tekken')) {
      const ms: number[] = [];
      for (let k = 0; k < 3; k++) {
        const r = runSync(cli, ['tokenize', gguf, '--file', file, '--json']);
        assert.equal(r.status, 0, r.stderr);
        const out = JSON.parse(r.stdout);
        ms.push(out.encode_ms);
        if (k === 0) t.diagnostic(`${f.name}: ${big.bytes.length} bytes -> ${out.tokens.length} tokens; vocabulary load ${out.load_ms.toFixed(0)} ms`);
      }
      const best = Math.min(...ms);
      t.diagnostic(`${f.name}: encode ${best.toFixed(2)} ms = ${(big.bytes.length / 1e6 / (best / 1000)).toFixed(1)} MB/s (best of 3)`);
      assert.ok(best < 250, `encoding 100 KB took ${best} ms`);
    }
  } finally {
    fs.rmSync(file, { force: true });
  }
});
