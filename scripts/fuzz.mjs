// `npm run fuzz -- --seconds N`: builds the libFuzzer targets of native/fuzz with clang (installing Debian's
// clang and its libFuzzer runtime through apt-get when none is found), writes a seed corpus from the test
// fixtures (small nemotron_h models in every tensor format, the bad-file corpus, tokenizer texts, chat
// templates) and runs each target for N seconds. Then the JavaScript targets: the protocol and webview
// message validators, the extension host's GGUF header reader, the chat-template renderer, and the
// streaming stop strings and reasoning split of model output, each driven by a mutation loop in this
// process (or a worker thread with a time limit, for templates).
// Prints, per target: executions, executions per second, coverage (edges reached of those instrumented),
// corpus size and crashes; exits 1 when any target found a crash, 2 when the fuzzers cannot be built.
//
//   --seconds N        time per target (default 30)
//   --js-seconds N     time per JavaScript target (default: --seconds)
//   --targets a,b      a subset: gguf, tokenizer, vocab, incremental, text, session, sampler (native),
//                      js-protocol, js-gguf, js-template, js-stream (JavaScript)
//   --jobs J           build parallelism (default 2)
//   --json FILE        also write the figures as JSON
//   --no-install       never call apt-get: fail when clang cannot fuzz
//
// Crashes are saved under native/build-fuzz/artifacts/<target>/; turn each into a regression input in
// test/fuzz-regressions/<target>/ (a `.hex` file, see native/fuzz/README.md), which `npm test` replays.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { root, run, seconds } from './lib.mjs';

export const NATIVE_TARGETS = ['gguf', 'tokenizer', 'vocab', 'incremental', 'text', 'session', 'sampler'];
export const JS_TARGETS = ['js-protocol', 'js-gguf', 'js-template', 'js-stream'];
const BUILD = path.join(root, 'native', 'build-fuzz');
// Largest input per target: a model header with small tensors for gguf, a page of text for the others.
const MAX_LEN = { gguf: 65536, tokenizer: 4096, vocab: 4096, incremental: 4096, text: 4096, session: 1024, sampler: 4096 };

export class FuzzSetupError extends Error {}

function parseArgs(argv) {
  const o = { seconds: 30, jsSeconds: undefined, targets: [...NATIVE_TARGETS, ...JS_TARGETS], jobs: 2, json: undefined, install: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--seconds') o.seconds = Number(next());
    else if (a === '--js-seconds') o.jsSeconds = Number(next());
    else if (a === '--targets') o.targets = next().split(',').map((s) => s.trim()).filter(Boolean);
    else if (a === '--jobs') o.jobs = Number(next());
    else if (a === '--json') o.json = next();
    else if (a === '--no-install') o.install = false;
    else throw new Error(`unknown option ${a} (known: --seconds N, --js-seconds N, --targets a,b, --jobs J, --json FILE, --no-install)`);
  }
  if (!(o.seconds > 0)) throw new Error('--seconds must be a positive number');
  o.jsSeconds ??= o.seconds;
  if (!(o.jsSeconds > 0)) throw new Error('--js-seconds must be a positive number');
  for (const t of o.targets) {
    if (!NATIVE_TARGETS.includes(t) && !JS_TARGETS.includes(t)) {
      throw new Error(`unknown target '${t}' (known: ${[...NATIVE_TARGETS, ...JS_TARGETS].join(', ')})`);
    }
  }
  return o;
}

// ---- clang with libFuzzer ----------------------------------------------------------------------------

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** True when this compiler links a libFuzzer + ASan + UBSan binary. */
function canFuzz(cxx) {
  if (!has(cxx)) return false;
  const out = path.join(os.tmpdir(), `hybrid-fuzz-probe-${process.pid}`);
  const r = spawnSync(cxx, ['-x', 'c++', '-', '-fsanitize=fuzzer,address,undefined', '-o', out], {
    input: 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n',
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  fs.rmSync(out, { force: true });
  return r.status === 0;
}

function findClang() {
  const versions = ['', '-19', '-18', '-17', '-16', '-15', '-14'];
  const env = process.env.HYBRID_FUZZ_CXX;
  if (env) return canFuzz(env) ? { cxx: env, cc: env.replace(/\+\+/, '') } : undefined;
  for (const v of versions) if (canFuzz(`clang++${v}`)) return { cxx: `clang++${v}`, cc: `clang${v}` };
  return undefined;
}

/** Debian's clang plus the compiler-rt package that holds libFuzzer for its version. */
async function installClang() {
  if (process.platform !== 'linux' || !has('apt-get')) {
    throw new FuzzSetupError('no clang with libFuzzer found and no apt-get to install one: install clang and its compiler-rt (libFuzzer) package');
  }
  const root_ = typeof process.getuid === 'function' && process.getuid() === 0;
  const prefix = root_ ? [] : has('sudo') ? ['sudo', '-n'] : undefined;
  if (!prefix) throw new FuzzSetupError('no clang with libFuzzer found; installing one needs root: run `sudo apt-get install clang libclang-rt-dev`');
  const apt = async (args) => {
    const [cmd, ...rest] = [...prefix, 'apt-get', ...args];
    return run(cmd, rest, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, allowFail: true, capture: true });
  };
  let r = await apt(['install', '-y', '--no-install-recommends', 'clang']);
  if (r.code !== 0) {
    await apt(['update']);
    r = await apt(['install', '-y', '--no-install-recommends', 'clang']);
    if (r.code !== 0) throw new FuzzSetupError(`apt-get install clang failed:\n${r.out.slice(-2000)}`);
  }
  const v = spawnSync('clang', ['--version'], { encoding: 'utf8' }).stdout?.match(/clang version (\d+)/)?.[1];
  // Debian 12 splits libFuzzer and the sanitizer runtimes into libclang-rt-<major>-dev.
  if (v && !canFuzz('clang++')) await apt(['install', '-y', '--no-install-recommends', `libclang-rt-${v}-dev`]);
}

export async function ensureClang({ install = true } = {}) {
  let c = findClang();
  if (c) return c;
  if (!install) throw new FuzzSetupError('no clang that can build libFuzzer targets (clang++ -fsanitize=fuzzer) was found');
  console.log('fuzz: no clang with libFuzzer; installing Debian\'s clang and libclang-rt-*-dev');
  await installClang();
  c = findClang();
  if (!c) throw new FuzzSetupError('clang was installed but still cannot link -fsanitize=fuzzer: install the compiler-rt package of its version (libclang-rt-<N>-dev)');
  return c;
}

export async function buildFuzzers({ jobs = 2, install = true, targets = NATIVE_TARGETS } = {}) {
  const { cc, cxx } = await ensureClang({ install });
  const cache = path.join(BUILD, 'CMakeCache.txt');
  if (fs.existsSync(cache)) {
    // A folder configured with another compiler (or without HYBRID_FUZZ) is configured afresh.
    const text = fs.readFileSync(cache, 'utf8');
    const configured = text.match(/^CMAKE_CXX_COMPILER:[A-Z]+=(.*)$/m)?.[1] ?? '';
    if (!text.includes('HYBRID_FUZZ:BOOL=ON') || path.basename(configured) !== path.basename(cxx)) fs.rmSync(BUILD, { recursive: true, force: true });
  }
  if (!fs.existsSync(cache)) {
    await run('cmake', ['-S', 'native', '-B', BUILD, `-DCMAKE_C_COMPILER=${cc}`, `-DCMAKE_CXX_COMPILER=${cxx}`, '-DCMAKE_BUILD_TYPE=RelWithDebInfo',
      '-DHYBRID_FUZZ=ON', '-DHYBRID_TESTS=OFF', '-DHYBRID_CUDA=OFF', '-Wno-dev', ...(has('ninja') ? ['-G', 'Ninja'] : [])], { capture: true });
  }
  await run('cmake', ['--build', BUILD, '-j', String(jobs), '--target', ...targets.map((t) => `fuzz_${t}`)], { capture: true });
  return { cxx };
}

// ---- seed corpus ---------------------------------------------------------------------------------------

function requireOut() {
  const req = createRequire(path.join(root, 'out', 'x.js'));
  return (p) => req(path.join(root, 'out', p));
}

class Prng {
  constructor(seed) {
    this.s = (seed >>> 0) || 1;
  }
  next() {
    // xorshift32
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  int(n) {
    return this.next() % n;
  }
  pick(a) {
    return a[this.int(a.length)];
  }
}

function textSamples() {
  const dir = path.join(root, 'test', 'corpus', 'tokenizer');
  const out = [];
  if (fs.existsSync(dir)) {
    for (const f of fs.readdirSync(dir).sort()) {
      const text = fs.readFileSync(path.join(dir, f));
      if (f.endsWith('.json')) {
        const collect = (v) => {
          if (typeof v === 'string') out.push(Buffer.from(v));
          else if (Array.isArray(v)) v.forEach(collect);
          else if (v && typeof v === 'object') Object.values(v).forEach(collect);
        };
        try {
          collect(JSON.parse(text.toString('utf8')));
        } catch {
          out.push(text);
        }
      } else {
        for (let i = 0; i < text.length; i += 1024) out.push(text.subarray(i, i + 1024));
      }
    }
  }
  const tdir = path.join(root, 'test', 'fixtures', 'chat-templates');
  if (fs.existsSync(tdir)) for (const f of fs.readdirSync(tdir).sort()) out.push(fs.readFileSync(path.join(tdir, f)).subarray(0, 4000));
  out.push(
    Buffer.from('<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi <tool> there</s><|im_end|>\n<|im_start|>assistant\n<think>\n'),
    Buffer.from('<SPECIAL_11>User\nwhat?\n<SPECIAL_11>Assistant\n<think></think>'),
    Buffer.from([0x61, 0xff, 0x62, 0xe2, 0x82, 0x63, 0xc0, 0x80, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80, 0xf0, 0x9f, 0x98]),
    Buffer.from('\r\n\r\n\t\t    return x\n\n\n   \u00a0\u3000 /* */ // ////\n'),
    Buffer.from("it's we've they'll I'd 123456789 1.5e-3 ½ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 👍🏽👨‍👩‍👧"),
  );
  return out.filter((b) => b.length > 0);
}

/** Small valid nemotron_h files: every tensor format, tokenizer variants, a chat template, a tied one. */
function modelSeeds(load) {
  const { buildNemotronH } = load('test/fixtures/nemotron-h.js');
  const { defaultVocab } = load('test/fixtures/default-vocab.js');
  const small = {
    model: 'gpt2', pre: 'gpt-2', tokens: ['<unk>', '<s>', '</s>', '<|im_start|>', '<|im_end|>', 'a', 'b', 'ab'],
    tokenTypes: [2, 3, 3, 3, 3, 1, 1, 1], merges: ['a b'], unk: 0, bos: 1, eos: 2, eot: 4, addBos: true,
    chatTemplate: '{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}',
  };
  const micro = { nEmbd: 32, pattern: 'M*-', ssmHeads: 2, ssmHeadDim: 16, dState: 4, nGroup: 1, dConv: 4, nHead: 2, nHeadKv: 1, headDim: 16, nFf: 32, nCtx: 256 };
  const wide = { ...micro, nEmbd: 256 }; // rows of whole 256-blocks: the K-quants apply
  const seeds = [];
  const add = (name, dims, opts) => {
    try {
      seeds.push([name, buildNemotronH('tiny', { dims, seed: 3, ...opts }).toBuffer()]);
    } catch (e) {
      console.log(`fuzz: seed ${name} skipped: ${e.message}`);
    }
  };
  for (const f of ['f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1']) add(`micro-${f}`, micro, { format: f, tokenizer: small });
  for (const f of ['q4_k', 'q5_k', 'q6_k']) add(`wide-${f}`, wide, { format: f, tokenizer: small });
  add('micro-default-vocab', micro, { format: 'q8_0', tokenizer: { ...defaultVocab(), chatTemplate: small.chatTemplate } });
  add('micro-tied', micro, { format: 'q8_0', tokenizer: small, tied: true });
  const tdir = path.join(root, 'test', 'fixtures', 'chat-templates');
  if (fs.existsSync(tdir)) {
    const nano = fs.readFileSync(path.join(tdir, 'nemotron-nano-v2.jinja'), 'utf8');
    add('micro-nano-template', micro, { format: 'q8_0', tokenizer: { ...small, chatTemplate: nano } });
  }
  return seeds;
}

/** The bad-file corpus of test/unit/badfiles.test.ts; files larger than 64 KiB are cut to their header. */
function badFileSeeds() {
  const code = `
    process.env.HYBRID_BADFILES_LIST = '1';
    const fs = require('fs'), path = require('path');
    const { corpus } = require(${JSON.stringify(path.join(root, 'out', 'test', 'unit', 'badfiles.test.js'))});
    const dir = process.argv[1];
    let n = 0, truncations = 0;
    for (const c of corpus(true)) {
      if (/^truncated to/.test(c.name) && truncations++ % 16 !== 0) continue;
      let b = c.bytes();
      if (b.length > 65536) b = b.subarray(0, 16384);
      fs.writeFileSync(path.join(dir, 'badfile-' + String(n++).padStart(4, '0')), b);
    }`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-fuzz-badfiles-'));
  const r = spawnSync(process.execPath, ['-e', code, dir], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const seeds = [];
  if (r.status === 0) for (const f of fs.readdirSync(dir).sort()) seeds.push([f, fs.readFileSync(path.join(dir, f))]);
  else console.log(`fuzz: the bad-file corpus could not be listed (${r.stderr.trim().split('\n').pop()})`);
  fs.rmSync(dir, { recursive: true, force: true });
  return seeds;
}

function hexDecode(text) {
  const digits = text.replace(/#[^\n]*/g, '').replace(/[^0-9a-fA-F]/g, '');
  return Buffer.from(digits, 'hex');
}

/** Each target's seeds, as [name, bytes]. */
export function makeSeeds() {
  if (!fs.existsSync(path.join(root, 'out', 'test', 'fixtures', 'nemotron-h.js'))) {
    throw new FuzzSetupError('out/ is missing: run `npm run build` first (the seed corpus comes from the compiled test fixtures)');
  }
  const load = requireOut();
  const texts = textSamples();
  const rng = new Prng(12345);
  const seeds = { gguf: [...modelSeeds(load), ...badFileSeeds()], tokenizer: [], vocab: [], incremental: [], text: [], session: [], sampler: [] };
  // sampler: [params 8][n_vocab 16][recent: n, ids 16…][logits f32…]
  for (let i = 0; i < 24; i++) {
    const nVocab = 1 + rng.int(300);
    const recent = Array.from({ length: rng.int(20) }, () => rng.int(nVocab));
    const logits = Buffer.alloc(4 * nVocab);
    for (let k = 0; k < nVocab; k++) logits.writeFloatLE(((rng.next() / 2 ** 32) - 0.5) * 20, 4 * k);
    const head = Buffer.from([i % 8, rng.int(256), rng.int(3), rng.int(256), rng.int(256), i % 8, 128, 128, i, nVocab & 0xff, nVocab >> 8, recent.length]);
    const rec = Buffer.alloc(2 * recent.length);
    recent.forEach((r, k) => rec.writeUInt16LE(r, 2 * k));
    seeds.sampler.push([`logits-${i}`, Buffer.concat([head, rec, logits])]);
  }
  // session: [stride][budget][ops: op a b n tokens…] — typing, edits, syncs, forks, pins, drops
  for (let i = 0; i < 40; i++) {
    const ops = [];
    for (let k = 4 + rng.int(10); k > 0; k--) {
      const op = [0, 0, 0, 2, 3, 6, 1, 4, 5, 7][rng.int(10)] | (rng.int(4) === 0 ? 0x40 : 0) | (rng.int(5) === 0 ? 0x80 : 0);
      const n = rng.int(24);
      ops.push(Buffer.from([op, rng.int(256), rng.int(256), n, ...Array.from({ length: n }, () => rng.int(256))]));
    }
    seeds.session.push([`ops-${i}`, Buffer.concat([Buffer.from([rng.int(16), rng.int(6)]), ...ops])]);
  }
  texts.forEach((t, i) => {
    const body = t.subarray(0, 2048);
    seeds.text.push([`text-${i}`, body]);
    // tokenizer: [mode][split][text | ids]: every pre-tokenizer and option in turn
    seeds.tokenizer.push([`text-${i}`, Buffer.concat([Buffer.from([i % 64, 255]), body])]);
    if (i % 3 === 0) seeds.tokenizer.push([`ids-${i}`, Buffer.concat([Buffer.from([(i * 7) % 64, 128]), body.subarray(0, 256)])]);
    // incremental: [pre][len][text][ops: op a16 b16 len bytes]
    const first = body.subarray(0, Math.min(200, body.length));
    const ops = [];
    for (let k = 0; k < 8; k++) {
      const w = texts[rng.int(texts.length)];
      const at = rng.int(w.length);
      const ins = w.subarray(at, at + rng.int(40));
      ops.push(Buffer.from([rng.int(256), rng.int(256), rng.int(256), rng.int(256), rng.int(256), ins.length]), ins);
    }
    seeds.incremental.push([`doc-${i}`, Buffer.concat([Buffer.from([i % 5, first.length]), first, ...ops])]);
  });
  // vocab: [pre][flags][tokens: type len bytes … 0 0][merges: len bytes … 0][present u16][ids u16…][text]
  const tok = (type, s) => Buffer.concat([Buffer.from([type, Buffer.byteLength(s)]), Buffer.from(s)]);
  const mergesOf = (...m) => Buffer.concat([...m.map((s) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)])), Buffer.from([0])]);
  const sp = '\u0120';
  for (const [pre, flags] of [[0, 0x09], [1, 0x19], [2, 0x39], [3, 0x09], [4, 0x0b], [7, 0x01], [0, 0x49], [0, 0x89]]) {
    seeds.vocab.push([`vocab-${pre}-${flags}`, Buffer.concat([
      Buffer.from([pre, flags]),
      tok(2, '<unk>'), tok(3, '<s>'), tok(3, '</s>'), tok(3, '<|im_end|>'), tok(4, '<tool>'), tok(1, `${sp}t`), tok(1, 'he'), tok(1, `${sp}the`),
      tok(5, '[PAD0]'), tok(6, '<0x0A>'), tok(3, '<|fim_prefix|>'), Buffer.from([0, 0]),
      mergesOf(`${sp} t`, 'h e', `${sp}t he`, 'nospace', ' x'),
      Buffer.from([0x07, 0x00, 0x01, 0x00, 0x02, 0x00, 0x03, 0x00]),
      Buffer.from('<s>Hi the <tool> there</s><|im_end|> tthe'),
    ])]);
  }
  // Regression inputs of earlier crashes are seeds too.
  for (const t of NATIVE_TARGETS) {
    const dir = path.join(root, 'test', 'fuzz-regressions', t);
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir).sort()) {
      if (f.endsWith('.md')) continue;
      const b = fs.readFileSync(path.join(dir, f));
      seeds[t].push([`regression-${f}`, f.endsWith('.hex') ? hexDecode(b.toString('utf8')) : b]);
    }
  }
  return seeds;
}

function writeSeeds(target, list) {
  const dir = path.join(BUILD, 'seeds', target);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of list) fs.writeFileSync(path.join(dir, name.replace(/[^\w.-]/g, '_')), bytes);
  return dir;
}

// ---- native targets ------------------------------------------------------------------------------------

function runNative(target, secs) {
  const bin = path.join(BUILD, `fuzz_${target}`);
  const corpus = path.join(BUILD, 'corpus', target);
  const artifacts = path.join(BUILD, 'artifacts', target);
  const seedsDir = path.join(BUILD, 'seeds', target);
  fs.mkdirSync(corpus, { recursive: true });
  fs.mkdirSync(artifacts, { recursive: true });
  const before = new Set(fs.readdirSync(artifacts));
  const args = [
    `-max_total_time=${Math.round(secs)}`, `-max_len=${MAX_LEN[target]}`, '-timeout=10', '-rss_limit_mb=2048', '-malloc_limit_mb=1024',
    '-print_final_stats=1', `-artifact_prefix=${artifacts}/`, corpus, seedsDir,
  ];
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(bin, args, { cwd: BUILD, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1:symbolize=1', UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1' } });
    let out = '';
    const keep = (d) => {
      out += d;
      if (out.length > 4_000_000) out = out.slice(-2_000_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    // libFuzzer stops by itself; this is a backstop for a target stuck in one input past -timeout.
    const guard = setTimeout(() => child.kill('SIGKILL'), (secs + 120) * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      const num = (re) => Number(out.match(re)?.[1] ?? NaN);
      const lines = out.split('\n').filter((l) => /^#\d+\s/.test(l));
      const last = lines[lines.length - 1] ?? '';
      const crashes = fs.readdirSync(artifacts).filter((f) => !before.has(f) && /^(crash|leak|timeout|oom|slow-unit)-/.test(f));
      const r = {
        target,
        kind: 'native',
        seconds: (Date.now() - t0) / 1000,
        executions: num(/stat::number_of_executed_units:\s*(\d+)/) || Number(last.match(/^#(\d+)/)?.[1] ?? 0),
        execPerSec: num(/stat::average_exec_per_sec:\s*(\d+)/),
        coverage: Number(last.match(/cov: (\d+)/)?.[1] ?? 0),
        features: Number(last.match(/ft: (\d+)/)?.[1] ?? 0),
        edges: num(/INFO: Loaded \d+ modules\s+\((\d+) inline 8-bit counters\)/),
        corpus: fs.readdirSync(corpus).length,
        peakRssMb: num(/stat::peak_rss_mb:\s*(\d+)/),
        crashes: crashes.map((f) => path.join(artifacts, f)),
        exit: signal ?? code,
      };
      if (code !== 0 || crashes.length) r.log = out.split('\n').filter((l) => /ERROR|FUZZ_CHECK|runtime error|SUMMARY|^\s+#\d+ 0x|==\d+==|Test unit written|artifact_prefix|Base64/.test(l)).slice(0, 60).join('\n');
      if ((code !== 0 || signal) && crashes.length === 0) r.crashes.push(`(exit ${signal ?? code}, no artifact)`);
      resolve(r);
    });
  });
}

// ---- JavaScript targets --------------------------------------------------------------------------------

/** Mutations of JSON-like values: wrong types, extra and missing fields, oversized strings and arrays. */
function mutateValue(rng, v, depth = 0) {
  const odd = [null, true, false, 0, -1, 1.5, -0, 2 ** 31, 2 ** 53, -(2 ** 53), 1e308, '', 'x', '\u0000', '\ud800', [], {}, [1, 'a'], { a: 1 }];
  const choice = rng.int(12);
  if (depth > 4 || choice === 0) return rng.pick(odd);
  if (choice === 1 && typeof v === 'string') return v + 'x'.repeat(rng.pick([1, 2, 63, 65, 255, 257, 4096, 8193, 70000, 70000, (1 << 20) + 1]));
  if (choice === 2 && typeof v === 'number') return rng.pick([v + 0.5, -v - 1, v * 1e9, Number.MAX_SAFE_INTEGER + 2, String(v)]);
  if (choice === 3) return [v, v];
  if (choice === 4) return { value: v };
  if (Array.isArray(v)) {
    const a = v.map((x) => (rng.int(3) === 0 ? mutateValue(rng, x, depth + 1) : x));
    // Long arrays of small items (copies of a big element would make a message of gigabytes).
    if (rng.int(4) === 0) a.push(...Array.from({ length: rng.int(50) === 0 ? 100_001 : rng.pick([1, 15, 16, 17, 100]) }, () => (rng.int(2) ? 'x' : 1)));
    return a;
  }
  if (v && typeof v === 'object') {
    const o = { ...v };
    const keys = Object.keys(o);
    const k = rng.int(5);
    if (k === 0 && keys.length) delete o[rng.pick(keys)];
    else if (k === 1) o[rng.pick(['extra', '__proto__', 'constructor', 'toString', 'hasOwnProperty', ''])] = rng.pick(odd);
    else if (keys.length) {
      const key = rng.pick(keys);
      o[key] = mutateValue(rng, o[key], depth + 1);
    }
    return o;
  }
  return rng.pick(odd);
}

const MAX_MESSAGE = 16 << 20;

function jsonRoundTrip(v) {
  // What crosses Node's IPC channel or postMessage as JSON: no undefined, no functions. JSON.parse makes
  // "__proto__" an own key, as a hostile sender's message would have it. Messages past MAX_MESSAGE
  // characters are not sent (undefined): mutations that repeat a large value can reach gigabytes.
  let text;
  try {
    text = JSON.stringify(v) ?? 'null';
  } catch {
    return undefined; // a RangeError: the string would be too long
  }
  return text.length > MAX_MESSAGE ? undefined : JSON.parse(text);
}

function preview(v) {
  const text = JSON.stringify(v, (_, x) => (typeof x === 'string' && x.length > 80 ? `${x.slice(0, 40)}…(${x.length} chars)` : Array.isArray(x) && x.length > 20 ? [...x.slice(0, 5), `…(${x.length} items)`] : x));
  return (text ?? String(v)).slice(0, 300);
}

function protocolTarget(load, secs, seed) {
  const { paramValidators, notificationValidators } = load('src/shared/protocol.js');
  const { ValidationError } = load('src/shared/validate.js');
  const { parseWebviewMessage } = load('src/shared/webviewProtocol.js');
  const pos = { line: 1, character: 2 };
  const valid = {
    initialize: { device: 'cpu', threads: 1, contextLength: 2048, stateMemoryBudgetMB: 64, modelPath: '/m.gguf', logLevel: 'info', requestTimeoutMs: 600000 },
    loadModel: { path: '/m.gguf', progressId: 1 },
    info: {},
    ping: { seq: 1 },
    openDocument: { uri: 'file:///a.ts', languageId: 'typescript', version: 1, text: 'let x = 1;\n' },
    editDocument: { uri: 'file:///a.ts', version: 2, changes: [{ range: { start: pos, end: pos }, rangeOffset: 3, rangeLength: 0, text: 'y' }] },
    closeDocument: { uri: 'file:///a.ts' },
    complete: { id: 1, uri: 'file:///a.ts', version: 2, offset: 3, maxTokens: 16, sampling: { temperature: 0.5, topK: 40, topP: 0.9, seed: 1 }, stop: ['\n\n'], suffixTokens: 64, timeoutMs: 10000 },
    chat: { id: 2, prompt: '<|im_start|>user\nhi<|im_end|>\n', maxTokens: 64, addBos: true, stop: ['<|im_end|>'], thinking: { startsInside: true, open: '<think>', close: '</think>', budget: 16, inject: '</think>\n' } },
    cancel: { id: 2 },
    bench: { id: 3, promptTokens: 8, genTokens: 8, stream: false },
    tokenize: { text: '<|im_start|>user\nhi', parseSpecial: true, ids: true },
    shutdown: {},
  };
  const notes = {
    log: { level: 'info', message: 'x' },
    progress: { id: 1, stage: 'read', done: 1, total: 2, message: 'reading' },
    stream: { id: 1, parts: [{ kind: 'text', text: 'a' }], tokens: 1 },
    memory: { rssBytes: 1, heapUsedBytes: 1, externalBytes: 1, modelBytes: 1, sessions: 0, sessionBytes: 0, documents: 0, documentChars: 0 },
  };
  const webview = [
    { type: 'ready' }, { type: 'send', text: 'hi' }, { type: 'command', command: 'showLogs' }, { type: 'openChat', id: 'c1' },
    { type: 'setBudget', budget: 10 }, { type: 'toggleChip', id: 'file', enabled: true }, { type: 'applyCode', code: 'x', language: 'ts' },
    { type: 'firstPaint', turnId: 't', ms: 5 },
  ];
  const rng = new Prng(seed);
  const deadline = Date.now() + secs * 1000;
  let executions = 0, accepted = 0;
  const failures = [];
  const check = (what, fn, input) => {
    const t0 = performance.now();
    let out;
    try {
      out = fn(input);
      accepted++;
    } catch (e) {
      if (!(e instanceof ValidationError) && !(what.startsWith('webview') && e instanceof Error && /^webview message: unknown type/.test(e.message))) {
        failures.push(`${what}: ${e?.constructor?.name} ${e?.message} on ${preview(input)}`);
      }
      return;
    } finally {
      executions++;
      const ms = performance.now() - t0;
      if (ms > 250) failures.push(`${what}: ${ms.toFixed(0)} ms for one message: ${preview(input)}`);
    }
    // Accepted: validating the result again accepts it unchanged, and nothing unknown got through.
    try {
      const again = fn(jsonRoundTrip(out));
      if (JSON.stringify(again) !== JSON.stringify(out)) failures.push(`${what}: not idempotent on ${preview(input)}`);
    } catch (e) {
      failures.push(`${what}: accepted, but its own output is refused (${e.message}): ${preview(input)}`);
    }
    if (out && typeof out === 'object' && Object.getPrototypeOf(out) !== Object.prototype) failures.push(`${what}: result has an odd prototype`);
  };
  while (Date.now() < deadline && failures.length < 20) {
    for (let k = 0; k < 200; k++) {
      const which = rng.int(10);
      if (which < 6) {
        const m = rng.pick(Object.keys(valid));
        let v = valid[m];
        for (let n = 1 + rng.int(3); n > 0; n--) v = mutateValue(rng, v);
        const wire = jsonRoundTrip(v);
        if (wire !== undefined) check(`params of ${m}`, (x) => paramValidators[m](x, 'params'), wire);
      } else if (which < 8) {
        const m = rng.pick(Object.keys(notes));
        const wire = jsonRoundTrip(mutateValue(rng, notes[m]));
        if (wire !== undefined) check(`notification ${m}`, (x) => notificationValidators[m](x, m), wire);
      } else {
        const wire = jsonRoundTrip(mutateValue(rng, rng.pick(webview)));
        if (wire !== undefined) check('webview message', parseWebviewMessage, wire);
      }
    }
  }
  return { target: 'js-protocol', kind: 'js', executions, accepted, crashes: failures };
}

function mutateBytes(rng, b) {
  const out = Buffer.from(b);
  const interesting32 = [0, 1, 7, 8, 13, 255, 0x7fffffff, 0x80000000, 0xffffffff];
  const interesting64 = [0n, 1n, 1n << 32n, 1n << 53n, (1n << 63n), (1n << 64n) - 1n];
  for (let n = 1 + rng.int(4); n > 0 && out.length > 0; n--) {
    const at = rng.int(out.length);
    switch (rng.int(5)) {
      case 0: out[at] ^= 1 << rng.int(8); break;
      case 1: out[at] = rng.int(256); break;
      case 2: if (at + 4 <= out.length) out.writeUInt32LE(rng.pick(interesting32), at); break;
      case 3: if (at + 8 <= out.length) out.writeBigUInt64LE(rng.pick(interesting64), at); break;
      default: return out.subarray(0, at);
    }
  }
  return out;
}

async function ggufSummaryTarget(load, secs, seed, seeds) {
  let mod;
  try {
    mod = load('src/shared/models/gguf.js');
  } catch {
    return { target: 'js-gguf', kind: 'js', executions: 0, skipped: 'out/src/shared/models/gguf.js is not built', crashes: [] };
  }
  const { readGgufSummary, GgufHeaderError } = mod;
  const rng = new Prng(seed);
  const deadline = Date.now() + secs * 1000;
  let executions = 0, accepted = 0;
  const failures = [];
  const inputs = seeds.map(([, b]) => b);
  while (Date.now() < deadline && failures.length < 20) {
    const bytes = mutateBytes(rng, rng.pick(inputs));
    let reads = 0;
    const readAt = async (offset, length) => {
      reads++;
      if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > bytes.length) {
        failures.push(`read outside the file: offset ${offset}, length ${length}, size ${bytes.length}`);
      }
      return bytes.subarray(offset, offset + length);
    };
    const t0 = performance.now();
    try {
      await readGgufSummary(readAt, bytes.length);
      accepted++;
    } catch (e) {
      if (!(e instanceof GgufHeaderError)) failures.push(`${e?.constructor?.name}: ${e?.message} (input ${bytes.length} bytes, base64 ${bytes.subarray(0, 2048).toString('base64')})`);
    }
    const ms = performance.now() - t0;
    if (ms > 1000) failures.push(`${ms.toFixed(0)} ms and ${reads} reads for a ${bytes.length}-byte file`);
    executions++;
  }
  return { target: 'js-gguf', kind: 'js', executions, accepted, crashes: failures };
}

// Templates are rendered in a worker thread with a time and heap limit: a render is synchronous, and a
// stuck one must not stop this process. Properties: a render ends within the limit in a string or a
// ChatTemplateError; its output never shows the host's environment or code; it never touches the disk.
const TEMPLATE_WORKER = `
const { parentPort, workerData } = require('worker_threads');
const { ChatTemplate, ChatTemplateError } = require(workerData.module);
parentPort.on('message', ({ source, messages }) => {
  let result;
  try {
    const t = new ChatTemplate(source, 'fuzz');
    result = { ok: true, text: t.render({ messages, addGenerationPrompt: true, bosToken: '<s>', eosToken: '</s>' }).slice(0, 100000) };
  } catch (e) {
    result = { ok: false, expected: e instanceof ChatTemplateError, error: String(e && e.message).slice(0, 500), name: e && e.constructor && e.constructor.name };
  }
  parentPort.postMessage(result);
});`;

function templateSource(rng) {
  // Small grammar of the Jinja that chat templates use, plus attempts to reach outside the sandbox.
  const exprs = [
    'messages', 'messages[0]', 'messages[0].content', "messages[0]['role']", 'bos_token', 'm.content', 'loop.index', 'range(3)', 'range(5)|list',
    "''.constructor", "''.constructor.constructor('return process')()", 'messages.constructor', 'm.__proto__', 'cycler', 'joiner', 'lipsum', 'self',
    'config', 'request', 'process', 'require', 'globalThis', 'this', "namespace(a=1)", 'messages|length', 'messages|tojson', "m.content|trim|upper",
    "m.content.split('x')", "'%s'|format(1)", 'raise_exception("no")', "m.content[::-1]", 'messages|selectattr("role","equalto","user")|list',
    "{'a': 1}|items", 'x.__class__.__mro__', "m.content.replace('a','b')", '(1/0)', 'none', 'undefined_name', 'm.tool_calls|tojson',
    'range(1000000000)|length', "'x' * 100000000", 'messages * 100000',
  ];
  const stmt = (d) => {
    const e = rng.pick(exprs);
    switch (d > 2 ? 0 : rng.int(6)) {
      case 0: return `{{ ${e} }}`;
      case 1: return `{% for m in messages %}${stmt(d + 1)}{% endfor %}`;
      case 2: return `{% if ${e} %}${stmt(d + 1)}{% else %}${stmt(d + 1)}{% endif %}`;
      case 3: return `{% set x = ${e} %}${stmt(d + 1)}`;
      // Now and then a loop of 10^5 (nested: a runaway the renderer's limits must end with a ChatTemplateError).
      case 4: return `{% for i in range(${rng.int(64) === 0 ? 100000 : rng.int(20)}) %}${stmt(d + 1)}{% endfor %}`;
      default: return `{% macro f(a) %}${stmt(d + 1)}{% endmacro %}{{ f(${e}) }}`;
    }
  };
  let s = '';
  for (let n = 1 + rng.int(4); n > 0; n--) s += stmt(0) + rng.pick(['', '\n', '<|im_start|>', '{#c#}']);
  if (rng.int(4) === 0) s = s.slice(0, rng.int(s.length + 1)); // cut: parse errors
  return s;
}

async function templateTarget(load, secs, seed) {
  const modulePath = path.join(root, 'out', 'src', 'shared', 'chatTemplate.js');
  if (!fs.existsSync(modulePath)) return { target: 'js-template', kind: 'js', executions: 0, skipped: 'out/src/shared/chatTemplate.js is not built', crashes: [] };
  const canary = `hybrid-canary-${process.pid}-${Date.now()}`;
  // The renderer stops a template after 2 s (DEFAULT_RENDER_LIMITS.timeMs); more than that here is a hang.
  const LIMIT_MS = 4000;
  const rng = new Prng(seed);
  const deadline = Date.now() + secs * 1000;
  let executions = 0, accepted = 0, hangs = 0;
  const failures = [];
  const spawnWorker = () =>
    new Worker(TEMPLATE_WORKER, { eval: true, workerData: { module: modulePath }, resourceLimits: { maxOldGenerationSizeMb: 256 }, env: { ...process.env, HYBRID_TEMPLATE_CANARY: canary } });
  let w = spawnWorker();
  const cwdBefore = new Set(fs.readdirSync(root));
  while (Date.now() < deadline && failures.length < 20) {
    const source = templateSource(rng);
    const messages = [
      { role: 'system', content: rng.pick(['', 'sys', '{{ 7*7 }}', '{% raw %}']) },
      { role: 'user', content: rng.pick(['hi', '<|im_end|>', '\u0000\ud800', 'x'.repeat(1000)]) },
    ];
    const result = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ hang: true }), LIMIT_MS);
      w.once('message', (m) => (clearTimeout(timer), resolve(m)));
      w.once('error', (e) => (clearTimeout(timer), resolve({ ok: false, expected: false, error: `worker died: ${e.message}` })));
      w.postMessage({ source, messages });
    });
    executions++;
    if (result.hang) {
      hangs++;
      failures.push(`render took more than ${LIMIT_MS} ms: ${JSON.stringify(source).slice(0, 400)}`);
      await w.terminate();
      w = spawnWorker();
      continue;
    }
    w.removeAllListeners('message');
    w.removeAllListeners('error');
    if (result.ok) {
      accepted++;
      if (result.text.includes(canary) || /\[native code\]|function \w*\(|process\.env|\/home\/|\/root\//.test(result.text)) {
        failures.push(`render shows the host: ${JSON.stringify(source).slice(0, 300)} -> ${JSON.stringify(result.text.slice(0, 200))}`);
      }
    } else if (!result.expected) {
      failures.push(`render threw ${result.name} (not ChatTemplateError): ${result.error} for ${JSON.stringify(source).slice(0, 300)}`);
      w.terminate();
      w = spawnWorker();
    }
  }
  await w.terminate();
  const created = fs.readdirSync(root).filter((f) => !cwdBefore.has(f));
  if (created.length) failures.push(`files appeared in the repository while templates rendered: ${created.join(', ')}`);
  return { target: 'js-template', kind: 'js', executions, accepted, hangs, crashes: failures };
}

// Model output, streamed: the worker's stop strings (StopMatcher) and the reasoning/answer split
// (ReasoningSplitter) see it token by token. Differential: any chunking of a text gives exactly what the
// whole text at once gives; stop strings are never shown; nothing is lost before the first stop.
function streamTarget(load, secs, seed) {
  const { StopMatcher } = load('src/worker/textStream.js');
  const { ReasoningSplitter, mergeParts } = load('src/shared/reasoning.js');
  const rng = new Prng(seed);
  const alphabet = ['a', 'b', '<', '>', '/', 't', 'h', 'i', 'n', 'k', '\n', ' ', '<think>', '</think>', '</', 'é', '\ud83d\ude00', '<|im_end|>'];
  const deadline = Date.now() + secs * 1000;
  let executions = 0;
  const failures = [];
  const chunked = (text) => {
    const out = [];
    for (let i = 0; i < text.length;) {
      const n = 1 + rng.int(6);
      out.push(text.slice(i, i + n));
      i += n;
    }
    return out;
  };
  while (Date.now() < deadline && failures.length < 20) {
    let text = '';
    for (let n = rng.int(40); n > 0; n--) text += rng.pick(alphabet);
    const stops = Array.from({ length: rng.int(3) }, () => {
      let s = '';
      for (let n = 1 + rng.int(3); n > 0; n--) s += rng.pick(alphabet);
      return s;
    });
    const pieces = chunked(text);
    // stop strings
    const whole = new StopMatcher(stops);
    const expected = whole.push(text) + whole.flush();
    const m = new StopMatcher(stops);
    let got = '';
    for (const p of pieces) got += m.push(p);
    got += m.flush();
    if (got !== expected) failures.push(`StopMatcher: ${JSON.stringify(pieces)} with stops ${JSON.stringify(stops)} gave ${JSON.stringify(got)}, at once ${JSON.stringify(expected)}`);
    if (!text.startsWith(got)) failures.push(`StopMatcher: output ${JSON.stringify(got)} is not a prefix of ${JSON.stringify(text)}`);
    for (const st of stops) if (got.includes(st)) failures.push(`StopMatcher: stop ${JSON.stringify(st)} of ${JSON.stringify(stops)} shown in ${JSON.stringify(got)} (chunks ${JSON.stringify(pieces)})`);
    // reasoning split
    const tags = { open: '<think>', close: '</think>', startsInside: rng.int(2) === 0 };
    const split = (chunks) => {
      const sp = new ReasoningSplitter(tags);
      const parts = [];
      for (const c of chunks) mergeParts(parts, sp.push(c, 1));
      mergeParts(parts, sp.flush());
      return parts;
    };
    const a = JSON.stringify(split([text]));
    const b = JSON.stringify(split(pieces));
    if (a !== b) failures.push(`ReasoningSplitter (startsInside ${tags.startsInside}): ${JSON.stringify(pieces)} gave ${b}, at once ${a}`);
    executions++;
  }
  return { target: 'js-stream', kind: 'js', executions, accepted: executions, crashes: failures };
}

// ---- report ----------------------------------------------------------------------------------------

function report(results) {
  const rows = [['target', 'executions', 'exec/s', 'coverage', 'corpus', 'crashes']];
  for (const r of results) {
    const cov = r.kind === 'native' ? `${r.coverage}/${r.edges} edges (${((100 * r.coverage) / r.edges).toFixed(1)}%), ${r.features} features` : r.skipped ? `skipped: ${r.skipped}` : `${r.accepted} of the inputs accepted`;
    const rate = r.kind === 'native' ? r.execPerSec : Math.round(r.executions / Math.max(1, r.seconds ?? 1));
    rows.push([r.target, String(r.executions), String(rate), cov, r.kind === 'native' ? String(r.corpus) : '-', String(r.crashes.length)]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  for (const row of rows) console.log(row.map((c, i) => c.padEnd(widths[i])).join('  '));
  for (const r of results) {
    if (!r.crashes.length) continue;
    console.log(`\n${r.target}: ${r.crashes.length} crash${r.crashes.length > 1 ? 'es' : ''}`);
    for (const c of r.crashes.slice(0, 10)) console.log(`  ${c}`);
    if (r.log) console.log(r.log.replace(/^/gm, '    '));
    if (r.kind === 'native') console.log(`  replay: ${path.relative(root, path.join(BUILD, `fuzz_${r.target}`))} FILE; keep it as a regression: xxd -p FILE > test/fuzz-regressions/${r.target}/NAME.hex`);
  }
}

/** One line per finished target, and the JSON so far: a long run that is stopped keeps what it measured. */
function progress(results, opts) {
  const r = results[results.length - 1];
  const cov = r.kind === 'native' ? `, ${r.coverage}/${r.edges} edges` : '';
  console.log(`fuzz: ${r.target} done: ${r.executions} executions${cov}, ${r.crashes.length} crashes`);
  if (opts.json) fs.writeFileSync(opts.json, JSON.stringify({ date: new Date().toISOString(), seconds: opts.seconds, partial: true, results }, null, 2));
}

export async function fuzz(opts) {
  const t0 = Date.now();
  const native = opts.targets.filter((t) => NATIVE_TARGETS.includes(t));
  const js = opts.targets.filter((t) => JS_TARGETS.includes(t));
  const results = [];
  const seeds = makeSeeds();
  if (native.length) {
    const b0 = Date.now();
    await buildFuzzers({ jobs: opts.jobs, install: opts.install, targets: native });
    console.log(`fuzz: built ${native.length} targets in ${seconds(Date.now() - b0)}`);
    for (const t of native) {
      writeSeeds(t, seeds[t]);
      console.log(`fuzz: ${t}: ${opts.seconds} s from ${seeds[t].length} seeds and ${fs.existsSync(path.join(BUILD, 'corpus', t)) ? fs.readdirSync(path.join(BUILD, 'corpus', t)).length : 0} corpus inputs`);
      results.push(await runNative(t, opts.seconds));
      progress(results, opts);
    }
  }
  const load = requireOut();
  const seed = Number(process.env.HYBRID_FUZZ_SEED ?? Date.now() % 2 ** 31);
  for (const t of js) {
    console.log(`fuzz: ${t}: ${opts.jsSeconds} s (seed ${seed})`);
    const s0 = Date.now();
    let r;
    if (t === 'js-protocol') r = protocolTarget(load, opts.jsSeconds, seed);
    else if (t === 'js-gguf') r = await ggufSummaryTarget(load, opts.jsSeconds, seed, seeds.gguf);
    else if (t === 'js-stream') r = streamTarget(load, opts.jsSeconds, seed);
    else r = await templateTarget(load, opts.jsSeconds, seed);
    r.seconds = (Date.now() - s0) / 1000;
    r.seed = seed;
    results.push(r);
    progress(results, opts);
  }
  console.log('');
  report(results);
  const crashes = results.reduce((a, r) => a + r.crashes.length, 0);
  console.log(`\nfuzz: ${results.length} targets, ${results.reduce((a, r) => a + r.executions, 0)} executions, ${crashes} crashes, ${seconds(Date.now() - t0)}`);
  if (opts.json) fs.writeFileSync(opts.json, JSON.stringify({ date: new Date().toISOString(), seconds: opts.seconds, results }, null, 2));
  return { results, crashes };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`fuzz: ${e.message}`);
    process.exit(2);
  }
  fuzz(opts).then(
    ({ crashes }) => process.exit(crashes > 0 ? 1 : 0),
    (e) => {
      console.error(`fuzz: ${e instanceof FuzzSetupError ? 'cannot fuzz: ' : ''}${e.message}`);
      process.exit(2);
    },
  );
}
