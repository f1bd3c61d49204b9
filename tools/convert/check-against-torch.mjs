#!/usr/bin/env node
// Checks this runtime against PyTorch on a trained checkpoint: converts the Hugging Face folder to GGUF
// (F32 and Q8_0 by default), runs `hybrid logits` / `hybrid generate` on the reference sequences of
// reference-logits.json (written by tools/train/train.py; format: tools/convert/REFERENCE_FORMAT.md), and
// prints per format and sequence the max abs / relative logit difference over the given positions, top-1
// agreement, and whether the greedy continuations match (teacher-forced and free-running). When the folder
// has tokenizer-check.json (train.py), the runtime's tokenization of those strings is compared too.
//
//   node tools/convert/check-against-torch.mjs --hf DIR [--ref DIR/reference-logits.json] [--types f32,q8_0]
//        [--out-dir DIR (keep the GGUFs)] [--json FILE (summary)]
// The hybrid CLI: HYBRID_CLI, else native/build-cli/hybrid, native/build/hybrid. Exit status 0 when every
// check within its stated tolerance passes (F32: max |diff| <= 1e-3 of the logit range at every position,
// same top-1 everywhere, greedy continuation identical except after a near-tie; Q8_0: <= 5e-2 of the range,
// top-1 on >= 90% of the positions), 1 otherwise, 2 on bad arguments.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const TOL = {
  f32: { range: 1e-3, top1: 1.0, greedyExact: true },
  f16: { range: 5e-3, top1: 0.95, greedyExact: false },
  bf16: { range: 2e-2, top1: 0.9, greedyExact: false },
  q8_0: { range: 5e-2, top1: 0.9, greedyExact: false },
  q4_k: { range: 0.25, top1: 0.6, greedyExact: false },
};
// A greedy step may differ where PyTorch's own top two are this close (fraction of the logit range).
const NEAR_TIE = 1e-3;

function parseArgs(argv) {
  const a = {};
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) usage(`unexpected argument ${argv[i]}`);
    a[argv[i].slice(2)] = argv[++i];
  }
  if (!a.hf) usage('--hf is required');
  return a;
}

function usage(msg) {
  console.error(`check-against-torch: ${msg}\nusage: node tools/convert/check-against-torch.mjs --hf DIR [--ref FILE] [--types f32,q8_0] [--out-dir DIR] [--json FILE]`);
  process.exit(2);
}

function findCli() {
  if (process.env.HYBRID_CLI) return path.resolve(process.env.HYBRID_CLI);
  for (const c of ['native/build-cli/hybrid', 'native/build/hybrid', 'native/build/Release/hybrid']) {
    const p = path.join(root, c);
    if (fs.existsSync(p)) return p;
  }
  throw new Error('the hybrid CLI is not built (npm run build, or set HYBRID_CLI)');
}

function loadConverter() {
  const js = path.join(root, 'out', 'tools', 'convert', 'convert.js');
  if (!fs.existsSync(js)) spawnSync('npx', ['tsc', '-p', '.'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (!fs.existsSync(js)) throw new Error(`${js} missing: run npx tsc -p .`);
  return require(js);
}

function hybrid(cli, args) {
  const r = spawnSync(cli, [...args, '--json'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`hybrid ${args[0]} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Sequences of reference-logits.json, normalized (train.py's fields; `tokens` accepted for `input_ids`). */
export function readReference(file) {
  const ref = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!Array.isArray(ref.sequences) || !ref.sequences.length) throw new Error(`${file}: no sequences`);
  return {
    meta: { dtype: ref.dtype, device: ref.device },
    sequences: ref.sequences.map((s, i) => {
      const ids = s.input_ids ?? s.tokens;
      if (!Array.isArray(ids) || !ids.length) throw new Error(`${file}: sequence ${i}: no input_ids`);
      const logits = s.logits;
      if (!Array.isArray(logits) || !logits.length) throw new Error(`${file}: sequence ${i}: no logits`);
      const positions = s.positions ?? logits.map((_, k) => ids.length - logits.length + k);
      if (positions.length !== logits.length) throw new Error(`${file}: sequence ${i}: ${positions.length} positions for ${logits.length} logit rows`);
      return { name: s.name ?? `seq${i}`, ids, positions, logits, greedy: Array.isArray(s.greedy) ? s.greedy : [] };
    }),
  };
}

const argmax = (row) => {
  let b = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[b]) b = i;
  return b;
};

/** Compares one converted file with the reference; returns rows of figures. */
export function compareFile(cli, file, ref) {
  const rows = [];
  for (const s of ref.sequences) {
    // One prefill over the input and PyTorch's greedy tokens: logits at the given positions, and our
    // prediction at every greedy step given PyTorch's prefix (teacher-forced greedy).
    const all = hybrid(cli, ['logits', file, '--tokens', [...s.ids, ...s.greedy.slice(0, -1)].join(','), '--all-positions']).logits;
    let maxAbs = 0, maxRel = 0, top1 = 0;
    s.positions.forEach((p, k) => {
      const want = s.logits[k];
      const got = all[p];
      if (!got || got.length < want.length) throw new Error(`${s.name}: position ${p}: ${got?.length ?? 0} logits from the runtime, ${want.length} in the reference`);
      let lo = Infinity, hi = -Infinity, err = 0;
      for (let i = 0; i < want.length; i++) {
        lo = Math.min(lo, want[i]);
        hi = Math.max(hi, want[i]);
        err = Math.max(err, Math.abs(got[i] - want[i]));
      }
      maxAbs = Math.max(maxAbs, err);
      maxRel = Math.max(maxRel, err / (hi - lo));
      if (argmax(got.slice(0, want.length)) === argmax(want)) top1++;
    });
    let forced = 0;
    for (let g = 0; g < s.greedy.length; g++) if (argmax(all[s.ids.length - 1 + g]) === s.greedy[g]) forced++;
    // Free-running greedy from the input alone.
    let free = [];
    if (s.greedy.length) free = hybrid(cli, ['generate', file, '--tokens', s.ids.join(','), '-n', String(s.greedy.length), '--temp', '0']).tokens;
    let firstDiff = -1;
    for (let g = 0; g < s.greedy.length; g++) {
      if (free[g] !== s.greedy[g]) {
        firstDiff = g;
        break;
      }
    }
    rows.push({
      sequence: s.name, tokens: s.ids.length, positions: s.positions.length, maxAbs, maxRel, top1, greedy: s.greedy.length,
      greedyForced: forced, greedyFree: firstDiff < 0 ? s.greedy.length : firstDiff, freeLength: free.length,
    });
  }
  return rows;
}

function tokenizerCheck(cli, file, hfDir) {
  const f = path.join(hfDir, 'tokenizer-check.json');
  if (!fs.existsSync(f)) return undefined;
  const cases = JSON.parse(fs.readFileSync(f, 'utf8')).cases ?? [];
  const bad = [];
  for (const c of cases) {
    const got = hybrid(cli, ['tokenize', file, '--text', c.text, '--special', '--no-bos']).tokens;
    if (JSON.stringify(got) !== JSON.stringify(c.ids)) bad.push({ text: c.text, want: c.ids, got });
  }
  return { cases: cases.length, mismatches: bad };
}

function main() {
  const a = parseArgs(process.argv.slice(2));
  const hf = path.resolve(a.hf);
  const refFile = path.resolve(a.ref ?? path.join(hf, 'reference-logits.json'));
  const types = (a.types ?? 'f32,q8_0').split(',');
  for (const t of types) if (!TOL[t]) usage(`unknown type ${t} (${Object.keys(TOL).join(', ')})`);
  const ref = readReference(refFile);
  const cli = findCli();
  const { convertCheckpoint } = loadConverter();
  const outDir = a['out-dir'] ? path.resolve(a['out-dir']) : fs.mkdtempSync(path.join(os.tmpdir(), 'check-torch-'));
  const summary = { hf, reference: refFile, cli, tolerances: TOL, formats: {} };
  let ok = true;
  console.log(`reference: ${refFile} (${ref.sequences.length} sequences; ${ref.meta.dtype ?? 'dtype not stated'} on ${ref.meta.device ?? '?'})`);
  try {
    for (const type of types) {
      const file = path.join(outDir, `check-${type}.gguf`);
      const conv = convertCheckpoint({ inDir: hf, outFile: file, type });
      for (const w of conv.warnings) console.log(`  converter warning: ${w}`);
      const rows = compareFile(cli, file, ref);
      const tol = TOL[type];
      console.log(`\n${type}: ${file} (${(conv.bytes / 2 ** 20).toFixed(1)} MiB)`);
      console.log('  sequence             tokens  max|diff|   max rel(range)  top-1     greedy teacher-forced  free-running');
      const fails = [];
      for (const r of rows) {
        console.log(`  ${r.sequence.padEnd(20)} ${String(r.tokens).padStart(6)}  ${r.maxAbs.toExponential(2).padStart(9)}  ${r.maxRel.toExponential(2).padStart(14)}  ${`${r.top1}/${r.positions}`.padStart(6)}  ${`${r.greedyForced}/${r.greedy}`.padStart(21)}  ${`${r.greedyFree}/${r.greedy}`.padStart(12)}${r.freeLength < r.greedy ? ` (generate stopped after ${r.freeLength})` : ''}`);
        if (r.maxRel > tol.range) fails.push(`${r.sequence}: max rel ${r.maxRel.toExponential(2)} > ${tol.range}`);
        if (r.top1 < tol.top1 * r.positions) fails.push(`${r.sequence}: top-1 ${r.top1}/${r.positions}`);
        if (tol.greedyExact && r.greedyForced < r.greedy) fails.push(`${r.sequence}: teacher-forced greedy ${r.greedyForced}/${r.greedy}`);
      }
      const tc = type === 'f32' ? tokenizerCheck(cli, file, hf) : undefined;
      if (tc) {
        console.log(`  tokenizer-check.json: ${tc.cases - tc.mismatches.length}/${tc.cases} strings tokenize identically`);
        for (const m of tc.mismatches) console.log(`    ${JSON.stringify(m.text).slice(0, 60)}: transformers ${JSON.stringify(m.want).slice(0, 80)} vs ours ${JSON.stringify(m.got).slice(0, 80)}`);
        if (tc.mismatches.length) fails.push(`tokenizer: ${tc.mismatches.length} strings differ`);
      }
      console.log(fails.length ? `  FAIL (${type}, tolerance ${tol.range} of the range): ${fails.join('; ')}` : `  pass (${type}: within ${tol.range} of the logit range, top-1 >= ${tol.top1 * 100}%${tol.greedyExact ? ', greedy identical' : ''})`);
      ok &&= fails.length === 0;
      summary.formats[type] = { file, bytes: conv.bytes, rows, tokenizer: tc, fails };
    }
  } finally {
    if (!a['out-dir']) fs.rmSync(outDir, { recursive: true, force: true });
  }
  if (a.json) fs.writeFileSync(a.json, JSON.stringify(summary, null, 1));
  console.log(`\n${ok ? 'all checks passed' : 'some checks FAILED'}`);
  process.exitCode = ok ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (e) {
    console.error(`check-against-torch: ${e.message}`);
    process.exitCode = 1;
  }
}
