// Hugging Face NemotronHForCausalLM checkpoint (config.json, safetensors, tokenizer.json) -> GGUF, written
// as llama.cpp's convert_hf_to_gguf.py writes it (conversion/nemotron.py NemotronHModel, granite.py
// GraniteHybridModel, mamba.py Mamba2Model, base.py prepare_tensors; /shared/docs/nemotron-h-gguf.md):
//   * tensor names: backbone.embeddings -> token_embd, layers.N.norm -> blk.N.attn_norm, mixer.in_proj ->
//     ssm_in, conv1d -> ssm_conv1d (weight squeezed to [C, K]), dt_bias -> ssm_dt.bias, A_log -> ssm_a
//     (A = -exp(A_log), shape [H, 1]), D -> ssm_d ([H, 1]), mixer.norm -> ssm_norm ([G, D_in/G]),
//     out_proj -> ssm_out, q/k/v/o_proj -> attn_q/k/v/output, up/down_proj -> ffn_up/down, norm_f ->
//     output_norm, lm_head -> output;
//   * F32 for 1-D tensors, norms, ssm_conv1d, ssm_a, ssm_d (names without .weight); the chosen type for the
//     matmul weights, falling back as llama.cpp does when a row is not whole blocks (Q8_0 -> F16;
//     Q4_K -> Q5_0 -> F16 as llama-quantize does);
//   * metadata: nemotron_h.* with per-layer head_count_kv / feed_forward_length arrays from the layer
//     pattern, context_length 2^20 (no RoPE), the tokenizer, general.*.
// Deliberate differences: llama.cpp's converter only writes F32/F16/BF16/Q8_0; Q4_K here is llama-quantize's
// "pure" Q4_K (every matmul weight Q4_K, with its fallbacks). A `layers_block_type` list (transformers 5)
// maps "mlp" to an MLP layer ('-'); llama.cpp 0.5.0's converter only knows "moe" there.
// Everything is validated before the output is created; the file is written under a temporary name and
// renamed at the end, so a failed conversion leaves no output file.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encode, FORMATS, fp16Bits, fp16Value, type FormatName } from '../../test/fixtures/ggml-formats';
import { arr, bool, f32, GgufType, GgufWriter, str, u32 } from '../../test/fixtures/gguf-writer';
import { FILE_TYPE, tensorFormat } from '../../test/fixtures/nemotron-h';
import { readHfTokenizer, type GgufTokenizer } from './hf-tokenizer';
import { ConvertError, readCheckpointTensors, readTensorF32, type SafeTensor } from './safetensors';

export { ConvertError } from './safetensors';

export type OutType = 'f32' | 'f16' | 'bf16' | 'q8_0' | 'q4_k';
export const OUT_TYPES: OutType[] = ['f32', 'f16', 'bf16', 'q8_0', 'q4_k'];

export interface NemotronHHparams {
  pattern: string; // M mamba-2, * attention, - MLP
  nEmbd: number;
  nVocab: number; // config vocab_size
  nHead: number;
  nHeadKv: number;
  headDim: number;
  nFf: number;
  ssmHeads: number;
  ssmHeadDim: number;
  dInner: number;
  dState: number;
  nGroup: number;
  dConv: number;
  eps: number;
  rmsEps?: number;
  tied: boolean;
}

const num = (cfg: Record<string, any>, keys: string[], fallback?: number): number => {
  for (const k of keys) if (typeof cfg[k] === 'number') return cfg[k];
  if (fallback !== undefined) return fallback;
  throw new ConvertError(`config.json: missing ${keys.join(' / ')}`);
};

const LAYER_TYPES: Record<string, string> = {
  mamba: 'M', linear_attention: 'M', attention: '*', full_attention: '*', mlp: '-', moe: 'E',
};

/**
 * JSON as Python's json module writes it (transformers' config.json): also accepts the bare tokens
 * Infinity, -Infinity and NaN (e.g. "time_step_limit": [0.0, Infinity]), which JSON.parse rejects.
 */
export function parsePythonJson(text: string): any {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
      out += c;
      continue;
    }
    const rest = text.startsWith('-Infinity', i) ? '-Infinity' : text.startsWith('Infinity', i) ? 'Infinity' : text.startsWith('NaN', i) ? 'NaN' : '';
    if (rest) {
      out += JSON.stringify(`@@py:${rest}@@`);
      i += rest.length - 1;
      continue;
    }
    out += c;
  }
  const values: Record<string, number> = { '@@py:Infinity@@': Infinity, '@@py:-Infinity@@': -Infinity, '@@py:NaN@@': NaN };
  return JSON.parse(out, (_k, v) => (typeof v === 'string' && v in values ? values[v] : v));
}

/** The hyperparameters of a NemotronH config.json, or a ConvertError saying what is wrong or unsupported. */
export function parseConfig(cfg: Record<string, any>): NemotronHHparams {
  const archs: unknown = cfg.architectures;
  if (cfg.model_type !== 'nemotron_h' && !(Array.isArray(archs) && archs.includes('NemotronHForCausalLM'))) {
    throw new ConvertError(`config.json: not a NemotronH checkpoint (model_type ${JSON.stringify(cfg.model_type)}, architectures ${JSON.stringify(archs)})`);
  }
  let pattern: string;
  if (typeof cfg.hybrid_override_pattern === 'string') pattern = cfg.hybrid_override_pattern;
  else {
    const list = cfg.layers_block_type ?? cfg.layer_types;
    if (!Array.isArray(list)) throw new ConvertError('config.json: neither hybrid_override_pattern nor layers_block_type');
    pattern = list.map((t: unknown) => {
      const c = LAYER_TYPES[String(t)];
      if (!c) throw new ConvertError(`config.json: unknown layer type ${JSON.stringify(t)}`);
      return c;
    }).join('');
  }
  if (!/^[M*\-E]+$/.test(pattern)) throw new ConvertError(`config.json: layer pattern ${JSON.stringify(pattern)} has characters other than M, *, -`);
  if (pattern.includes('E')) throw new ConvertError('config.json: MoE layers (E) are not supported (nemotron_h_moe)');
  if (typeof cfg.num_hidden_layers === 'number' && cfg.num_hidden_layers !== pattern.length) {
    throw new ConvertError(`config.json: num_hidden_layers ${cfg.num_hidden_layers} but the layer pattern has ${pattern.length} layers`);
  }
  if ((cfg.num_nextn_predict_layers ?? 0) > 0) throw new ConvertError('config.json: multi-token prediction layers are not supported');
  for (const k of ['use_bias', 'mamba_proj_bias', 'attention_bias', 'mlp_bias']) {
    if (cfg[k] === true) throw new ConvertError(`config.json: ${k}=true is not supported (the runtime has no such bias)`);
  }
  if (cfg.use_conv_bias === false || cfg.mamba_conv_bias === false) throw new ConvertError('config.json: use_conv_bias=false is not supported (llama.cpp\'s graph always adds the conv bias)');
  if (cfg.mlp_hidden_act !== undefined && cfg.mlp_hidden_act !== 'relu2') throw new ConvertError(`config.json: mlp_hidden_act ${cfg.mlp_hidden_act} is not supported (relu2)`);
  if (cfg.mamba_hidden_act !== undefined && cfg.mamba_hidden_act !== 'silu') throw new ConvertError(`config.json: mamba_hidden_act ${cfg.mamba_hidden_act} is not supported (silu)`);
  const nEmbd = num(cfg, ['hidden_size']);
  const nHead = num(cfg, ['num_attention_heads']);
  const h: NemotronHHparams = {
    pattern,
    nEmbd,
    nVocab: num(cfg, ['vocab_size']),
    nHead,
    nHeadKv: num(cfg, ['num_key_value_heads'], nHead),
    headDim: num(cfg, ['head_dim', 'attention_head_dim'], nEmbd / nHead),
    nFf: num(cfg, ['intermediate_size']),
    ssmHeads: num(cfg, ['mamba_num_heads']),
    ssmHeadDim: num(cfg, ['mamba_head_dim']),
    dInner: 0,
    dState: num(cfg, ['ssm_state_size']),
    nGroup: num(cfg, ['n_groups', 'mamba_n_groups'], 8),
    dConv: num(cfg, ['conv_kernel', 'mamba_d_conv'], 4),
    eps: num(cfg, ['layer_norm_epsilon'], 1e-5),
    rmsEps: typeof cfg.rms_norm_eps === 'number' ? cfg.rms_norm_eps : undefined,
    tied: cfg.tie_word_embeddings === true,
  };
  h.dInner = h.ssmHeads * h.ssmHeadDim;
  for (const [k, v] of Object.entries(h)) {
    if (typeof v === 'number' && k !== 'eps' && k !== 'rmsEps' && (!Number.isInteger(v) || v <= 0)) {
      throw new ConvertError(`config.json: ${k} = ${v} must be a positive integer`);
    }
  }
  if (h.ssmHeads % h.nGroup !== 0) throw new ConvertError(`config.json: mamba_num_heads ${h.ssmHeads} is not a multiple of n_groups ${h.nGroup}`);
  if (h.nHead % h.nHeadKv !== 0) throw new ConvertError(`config.json: num_attention_heads ${h.nHead} is not a multiple of num_key_value_heads ${h.nHeadKv}`);
  return h;
}

interface Planned {
  gguf: string;
  hf: string;
  /** Expected PyTorch (row-major) shape in the checkpoint. */
  hfShape: number[];
  /** ggml ne of the output. */
  ne: number[];
  matmul: boolean;
  transform?: 'neg-exp';
}

/** The tensors a NemotronH checkpoint must have, in llama.cpp's output order. */
export function plannedTensors(h: NemotronHHparams): Planned[] {
  const E = h.nEmbd;
  const V = h.nVocab;
  const C = h.dInner + 2 * h.nGroup * h.dState;
  const P = 2 * h.dInner + 2 * h.nGroup * h.dState + h.ssmHeads;
  const H = h.ssmHeads;
  const out: Planned[] = [{ gguf: 'token_embd.weight', hf: 'backbone.embeddings.weight', hfShape: [V, E], ne: [E, V], matmul: true }];
  [...h.pattern].forEach((kind, i) => {
    const hf = (s: string) => `backbone.layers.${i}.${s}`;
    const g = (s: string) => `blk.${i}.${s}`;
    out.push({ gguf: g('attn_norm.weight'), hf: hf('norm.weight'), hfShape: [E], ne: [E], matmul: false });
    if (kind === 'M') {
      out.push(
        { gguf: g('ssm_in.weight'), hf: hf('mixer.in_proj.weight'), hfShape: [P, E], ne: [E, P], matmul: true },
        { gguf: g('ssm_conv1d.weight'), hf: hf('mixer.conv1d.weight'), hfShape: [C, 1, h.dConv], ne: [h.dConv, C], matmul: false },
        { gguf: g('ssm_conv1d.bias'), hf: hf('mixer.conv1d.bias'), hfShape: [C], ne: [C], matmul: false },
        { gguf: g('ssm_dt.bias'), hf: hf('mixer.dt_bias'), hfShape: [H], ne: [H], matmul: false },
        { gguf: g('ssm_a'), hf: hf('mixer.A_log'), hfShape: [H], ne: [1, H], matmul: false, transform: 'neg-exp' },
        { gguf: g('ssm_d'), hf: hf('mixer.D'), hfShape: [H], ne: [1, H], matmul: false },
        { gguf: g('ssm_norm.weight'), hf: hf('mixer.norm.weight'), hfShape: [h.dInner], ne: [h.dInner / h.nGroup, h.nGroup], matmul: false },
        { gguf: g('ssm_out.weight'), hf: hf('mixer.out_proj.weight'), hfShape: [E, h.dInner], ne: [h.dInner, E], matmul: true },
      );
    } else if (kind === '*') {
      const q = h.nHead * h.headDim;
      const kv = h.nHeadKv * h.headDim;
      out.push(
        { gguf: g('attn_q.weight'), hf: hf('mixer.q_proj.weight'), hfShape: [q, E], ne: [E, q], matmul: true },
        { gguf: g('attn_k.weight'), hf: hf('mixer.k_proj.weight'), hfShape: [kv, E], ne: [E, kv], matmul: true },
        { gguf: g('attn_v.weight'), hf: hf('mixer.v_proj.weight'), hfShape: [kv, E], ne: [E, kv], matmul: true },
        { gguf: g('attn_output.weight'), hf: hf('mixer.o_proj.weight'), hfShape: [E, q], ne: [q, E], matmul: true },
      );
    } else {
      out.push(
        { gguf: g('ffn_up.weight'), hf: hf('mixer.up_proj.weight'), hfShape: [h.nFf, E], ne: [E, h.nFf], matmul: true },
        { gguf: g('ffn_down.weight'), hf: hf('mixer.down_proj.weight'), hfShape: [E, h.nFf], ne: [h.nFf, E], matmul: true },
      );
    }
  });
  out.push({ gguf: 'output_norm.weight', hf: 'backbone.norm_f.weight', hfShape: [E], ne: [E], matmul: false });
  if (!h.tied) out.push({ gguf: 'output.weight', hf: 'lm_head.weight', hfShape: [V, E], ne: [E, V], matmul: true });
  return out;
}

/** Checkpoint names as NemotronH code writes them: backbone.* (transformers 5 may save model.*). */
function canonicalName(name: string): string {
  if (name.startsWith('model.')) return `backbone.${name.slice(6)}`;
  if (name === 'backbone.embedding.weight') return 'backbone.embeddings.weight';
  return name;
}

// Tensors a checkpoint may carry that the GGUF does not (llama.cpp base.py skips these).
const IGNORED = /(\.rotary_emb\.inv_freq|\.attention\.masked_bias|\.attention\.bias)$/;

/** The format of one output tensor. */
export function outputFormat(type: OutType, p: { matmul: boolean; ne: number[] }): FormatName {
  if (!p.matmul) return 'f32';
  if (type === 'f32' || type === 'f16' || type === 'bf16') return type;
  return tensorFormat(type, p.ne[0]);
}

export interface ConvertOptions {
  inDir: string;
  outFile: string;
  type: OutType;
  name?: string;
  license?: string;
  log?: (line: string) => void;
}

export interface ConvertResult {
  outFile: string;
  bytes: number;
  parameters: number;
  tensors: Array<{ name: string; ne: number[]; format: FormatName }>;
  warnings: string[];
}

function sizeLabel(n: number): string {
  const units: Array<[number, string]> = [[1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'K']];
  for (const [scale, u] of units) {
    if (n >= scale) {
      const v = n / scale;
      return `${v < 10 ? v.toFixed(1) : Math.round(v)}${u}`;
    }
  }
  return String(n);
}

function readmeLicense(dir: string): string | undefined {
  const f = path.join(dir, 'README.md');
  if (!fs.existsSync(f)) return undefined;
  const m = /^---\n([\s\S]*?)\n---/.exec(fs.readFileSync(f, 'utf8'));
  const l = m && /^license:\s*(\S.*)$/m.exec(m[1]);
  return l ? l[1].trim().replace(/^["']|["']$/g, '') : undefined;
}

/** Builds the GGUF (metadata and lazily converted tensors) after checking the whole checkpoint. */
export function planConversion(opts: ConvertOptions): { writer: GgufWriter; result: Omit<ConvertResult, 'bytes' | 'outFile'> } {
  const dir = opts.inDir;
  if (!OUT_TYPES.includes(opts.type)) throw new ConvertError(`unknown output type ${JSON.stringify(opts.type)} (${OUT_TYPES.join(', ')})`);
  const cfgFile = path.join(dir, 'config.json');
  if (!fs.existsSync(cfgFile)) throw new ConvertError(`${dir}: no config.json`);
  let cfg: Record<string, any>;
  try {
    cfg = parsePythonJson(fs.readFileSync(cfgFile, 'utf8'));
  } catch (e) {
    throw new ConvertError(`config.json: ${(e as Error).message}`);
  }
  const h = parseConfig(cfg);
  const raw = readCheckpointTensors(dir);
  const tensors = new Map<string, SafeTensor>();
  for (const [name, t] of raw) {
    if (IGNORED.test(name)) continue;
    tensors.set(canonicalName(name), t);
  }
  // Tied checkpoints may still carry lm_head.weight (a copy); llama.cpp writes what the file has.
  if (h.tied && tensors.has('lm_head.weight')) h.tied = false;
  const plan = plannedTensors(h);
  const missing = plan.filter((p) => !tensors.has(p.hf)).map((p) => p.hf);
  if (missing.length) throw new ConvertError(`checkpoint is missing ${missing.length} tensor(s): ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', …' : ''}`);
  const expected = new Set(plan.map((p) => p.hf));
  const extra = [...tensors.keys()].filter((n) => !expected.has(n));
  if (extra.length) throw new ConvertError(`checkpoint has ${extra.length} tensor(s) a NemotronH model of this config does not: ${extra.slice(0, 8).join(', ')}${extra.length > 8 ? ', …' : ''}`);
  for (const p of plan) {
    const t = tensors.get(p.hf)!;
    let ok = t.shape.length === p.hfShape.length && t.shape.every((d, i) => d === p.hfShape[i]);
    // conv1d may be saved squeezed ([C, K]); A_log / D / dt_bias may carry a trailing 1.
    if (!ok && p.gguf.endsWith('ssm_conv1d.weight')) ok = t.shape.length === 2 && t.shape[0] === p.hfShape[0] && t.shape[1] === p.hfShape[2];
    if (!ok && p.hfShape.length === 1) ok = t.shape.reduce((a, b) => a * b, 1) === p.hfShape[0] && t.shape.filter((d) => d !== 1).length <= 1;
    if (!ok) throw new ConvertError(`tensor ${p.hf}: shape [${t.shape.join(', ')}], expected [${p.hfShape.join(', ')}] from config.json`);
  }

  const tok: GgufTokenizer = readHfTokenizer(dir, cfg, h.nVocab);
  if (tok.tokens.length !== h.nVocab) {
    throw new ConvertError(
      `vocab_size ${h.nVocab} is not a multiple of 8: llama.cpp's NemotronH converter pads the token list to ${tok.tokens.length}, which no longer matches the embedding rows; train with a vocab_size that is a multiple of 8`,
    );
  }

  const w = new GgufWriter();
  const arch = 'nemotron_h';
  const k = (s: string) => `${arch}.${s}`;
  const parameters = plan.reduce((a, p) => a + p.ne.reduce((x, y) => x * y, 1), 0);
  w.set('general.architecture', str(arch));
  w.set('general.type', str('model'));
  w.set('general.name', str(opts.name ?? path.basename(path.resolve(dir))));
  w.set('general.size_label', str(sizeLabel(parameters)));
  const license = opts.license ?? readmeLicense(dir);
  if (license) w.set('general.license', str(license));
  w.set(k('block_count'), u32(h.pattern.length));
  w.set(k('context_length'), u32(2 ** 20)); // GraniteHybridModel: no RoPE -> 2^20
  w.set(k('embedding_length'), u32(h.nEmbd));
  w.set(k('feed_forward_length'), arr(GgufType.I32, [...h.pattern].map((c) => (c === '-' ? h.nFf : 0))));
  w.set(k('attention.head_count'), u32(h.nHead));
  w.set(k('attention.head_count_kv'), arr(GgufType.I32, [...h.pattern].map((c) => (c === '*' ? h.nHeadKv : 0))));
  if (h.rmsEps !== undefined) w.set(k('attention.layer_norm_rms_epsilon'), f32(h.rmsEps));
  w.set(k('attention.layer_norm_epsilon'), f32(h.eps));
  w.set(k('attention.key_length'), u32(h.headDim));
  w.set(k('attention.value_length'), u32(h.headDim));
  w.set(k('vocab_size'), u32(h.nVocab));
  w.set(k('rope.dimension_count'), u32(h.headDim));
  w.set('general.file_type', u32(FILE_TYPE[opts.type]));
  w.set(k('ssm.conv_kernel'), u32(h.dConv));
  w.set(k('ssm.state_size'), u32(h.dState));
  w.set(k('ssm.group_count'), u32(h.nGroup));
  w.set(k('ssm.inner_size'), u32(h.dInner));
  w.set(k('ssm.time_step_rank'), u32(h.ssmHeads));
  w.set(k('rope.scaling.finetuned'), bool(false));
  w.set('tokenizer.ggml.model', str(tok.model));
  w.set('tokenizer.ggml.pre', str(tok.pre));
  w.set('tokenizer.ggml.tokens', arr(GgufType.STRING, tok.tokens));
  w.set('tokenizer.ggml.token_type', arr(GgufType.I32, tok.tokenTypes));
  w.set('tokenizer.ggml.merges', arr(GgufType.STRING, tok.merges));
  for (const [key, id] of Object.entries(tok.ids)) w.set(`tokenizer.ggml.${key}`, u32(id));
  w.set('tokenizer.ggml.add_bos_token', bool(tok.addBos));
  if (tok.addEos !== undefined) w.set('tokenizer.ggml.add_eos_token', bool(tok.addEos));
  if (tok.chatTemplate !== undefined) w.set('tokenizer.chat_template', str(tok.chatTemplate));
  w.set('general.quantization_version', u32(2));

  const listed: ConvertResult['tensors'] = [];
  for (const p of plan) {
    const t = tensors.get(p.hf)!;
    const format = outputFormat(opts.type, p);
    const fmt = FORMATS[format];
    const n = p.ne.reduce((a, b) => a * b, 1);
    listed.push({ name: p.gguf, ne: p.ne, format });
    w.addTensor({
      name: p.gguf,
      type: fmt.type,
      ne: p.ne,
      nbytes: (n / p.ne[0]) * ((p.ne[0] / fmt.blockSize) * fmt.typeSize),
      data: () => {
        let x = readTensorF32(t);
        if (p.transform === 'neg-exp') {
          const y = new Float32Array(x.length);
          // torch computes exp in the tensor's dtype: F32 for F32/BF16 checkpoints (BF16 is widened first), F16 for F16.
          const round = t.dtype === 'F16' ? (v: number) => fp16Value(fp16Bits(v)) : Math.fround;
          for (let i = 0; i < x.length; i++) y[i] = round(-Math.exp(x[i]));
          x = y;
        }
        return encode(fmt, x);
      },
    });
  }
  return { writer: w, result: { parameters, tensors: listed, warnings: tok.warnings } };
}

/** Converts `opts.inDir` to `opts.outFile`. On any error nothing is left at `outFile`. */
export function convertCheckpoint(opts: ConvertOptions): ConvertResult {
  const log = opts.log ?? (() => {});
  const { writer, result } = planConversion(opts);
  for (const wmsg of result.warnings) log(`warning: ${wmsg}`);
  const out = path.resolve(opts.outFile);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    const layout = writer.writeFile(tmp);
    fs.renameSync(tmp, out);
    log(`wrote ${out}: ${result.tensors.length} tensors, ${result.parameters} parameters, ${layout.size} bytes (${opts.type})`);
    return { ...result, outFile: out, bytes: layout.size };
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
