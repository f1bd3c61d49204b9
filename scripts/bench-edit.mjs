// `npm run bench:edit`: what a one-line edit costs before the next token, at 50%, 90% and 99% of a long
// document: this runtime (per-document checkpoints, rollback and resume) against its own full re-read and
// against llama.cpp (node-llama-cpp, same GGUF, same threads) evaluating the edited prompt after the
// original one — all measured in the same run.
//   npm run bench:edit -- --doc-tokens 8192 --preset small --format q8_0 --threads 2 [--model PATH]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { root } from './lib.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const nDoc = Number(opt('doc-tokens', '8192'));
const threads = Number(opt('threads', '2'));
const positions = opt('edit-at', '0.5,0.9,0.99').split(',').map(Number);
const edits = Number(opt('edits', '3'));
const cli = process.env.HYBRID_CLI ?? ['native/build/hybrid', 'native/build-cli/hybrid'].map((p) => path.join(root, p)).find((p) => fs.existsSync(p));
if (!cli) throw new Error('build first: npm run build');

let model = opt('model');
if (!model) {
  const preset = opt('preset', 'small'), format = opt('format', 'q8_0');
  model = path.join(root, '.cache', 'models', `${preset}-${format}-seed1.gguf`);
  if (!fs.existsSync(model)) {
    fs.mkdirSync(path.dirname(model), { recursive: true });
    execFileSync(process.execPath, [path.join(root, 'out/test/fixtures/make-model.js'), '--preset', preset, '--format', format, '--seed', '1', '--out', model], { stdio: 'inherit' });
  }
}
const info = JSON.parse(execFileSync(cli, ['info', model, '--json'], { encoding: 'utf8' }));
console.log(`model ${path.relative(root, model)}: ${(info.parameterCount / 1e6).toFixed(0)}M parameters, ${info.layers.pattern}; document ${nDoc} tokens; ${threads} threads`);

const ours = JSON.parse(execFileSync(cli, ['edit-bench', model, '--doc-tokens', String(nDoc), '--edit-at', positions.join(','), '--edits', String(edits), '--threads', String(threads), '--json'], { encoding: 'utf8' }));

// llama.cpp: the same document, then the same kind of edit (8 tokens replaced) at each position.
const { getLlama } = await import('node-llama-cpp');
const llama = await getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: 'error', maxThreads: threads });
const m = await llama.loadModel({ modelPath: model });
const ctx = await m.createContext({ contextSize: nDoc + 64, batchSize: 512, threads, flashAttention: false });
const seq = ctx.getSequence();
let doc = Array.from({ length: nDoc }, (_, i) => (i * 7919 + 13) % info.vocabSize);
let t0 = performance.now();
await seq.evaluateWithoutGeneratingNewTokens(doc);
const peerFull = (performance.now() - t0) / 1000;
const peer = [];
for (const at of positions) {
  let total = 0;
  for (let e = 0; e < edits; e++) {
    const p = Math.min(nDoc - 8, Math.floor(at * (nDoc - 8)) + e);
    doc = doc.slice();
    for (let i = 0; i < 8; i++) doc[p + i] = (doc[p + i] + 1 + e) % info.vocabSize;
    // What a client of llama.cpp does after an edit: keep the common prefix, evaluate the rest. For a
    // hybrid model llama.cpp cannot cut its recurrent state, so node-llama-cpp re-evaluates the prefix.
    const current = seq.contextTokens;
    let common = 0;
    while (common < current.length && current[common] === doc[common]) common++;
    t0 = performance.now();
    await seq.eraseContextTokenRanges([{ start: common, end: current.length }]);
    await seq.evaluateWithoutGeneratingNewTokens(doc.slice(seq.contextTokens.length));
    total += (performance.now() - t0) / 1000;
  }
  peer.push(total / edits);
}
await ctx.dispose();
await m.dispose();
await llama.dispose();

const rows = ours.positions.map((p, i) => ({
  'edit at': `${(p.edit_at * 100).toFixed(0)}%`,
  'ours edit→next token (s)': p.edit_mean_s.toFixed(3),
  'ours tokens read': p.tokens_read_per_edit.toFixed(0),
  'ours full re-read (s)': ours.full_reread_s.toFixed(2),
  'vs own full re-read': `${p.speedup.toFixed(1)}x`,
  'llama.cpp (s)': peer[i].toFixed(3),
  'vs llama.cpp': `${(peer[i] / p.edit_mean_s).toFixed(1)}x`,
}));
console.table(rows);
console.log(`llama.cpp full read of the document: ${peerFull.toFixed(2)} s. Checkpoints held: ${ours.checkpoints} (${(ours.checkpoint_bytes / 1048576).toFixed(1)} MiB, ${(ours.bytes_per_checkpoint / 1048576).toFixed(2)} MiB each, stride ${ours.stride}).`);
