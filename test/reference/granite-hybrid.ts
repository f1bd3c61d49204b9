// A float64 reference of llama.cpp's `granitehybrid` forward pass (IBM Granite 4.0 H), written the plainest
// way, one token at a time, beside test/reference/nemotron-h.ts (same Mamba-2 and attention formulas).
// Read off llama.cpp src/models/granite-hybrid.cpp (graph, build_layer_ffn), src/llama-graph.cpp
// (build_inp_embd's embedding scale, build_ffn, build_moe_ffn), ggml-cpu ops.cpp (rope, NORM mode):
//
//   h = token_embd[tok] * embedding_scale
//   per layer:  h = h + residual_scale * mixer(rms_norm(h) * attn_norm)        mixer: Mamba-2 or attention
//               h = h + residual_scale * ffn(rms_norm(h) * ffn_norm)
//   logits = output @ (rms_norm(h) * output_norm) / logit_scale
//
//   ffn (dense)  = down(silu(gate x) * up x)
//   ffn (MoE)    = sum_j w_j * expert_{e_j}(x) + shared(x): p = softmax(router x), e = top-k of p (largest
//                  first), w = p[e] / sum p[e]; every expert and the shared one a SwiGLU as above
//   attention    = softmax(q.k * attention_scale) v per head (GQA), RoPE (NORM: adjacent pairs) on q, k
//                  only when rope.scaling.finetuned is true or absent (llama.cpp's rule for granitehybrid)
// A multiplier that is absent (0) is off. Used only by tests, to check the C++ runtime.
import type { GgufContents, GgufTensor, GgufValue } from './gguf-read';
import { rmsNorm, type ActivationRounding, type Decode } from './nemotron-h';

interface Matrix {
  type: number; // ggml type of the stored weight
  rows: number; // ggml ne[1]
  cols: number; // ggml ne[0]
  w: Float64Array; // row-major [rows][cols]
}

interface SwiGlu {
  gate: Matrix;
  up: Matrix;
  down: Matrix;
}

interface Layer {
  mixer: 'mamba' | 'attention';
  norm: Float64Array;
  // Mamba-2
  inProj?: Matrix;
  convW?: Float64Array; // [C][K]
  convB?: Float64Array;
  dtBias?: Float64Array;
  A?: Float64Array; // already -exp(A_log)
  D?: Float64Array;
  groupNorm?: Float64Array;
  outProj?: Matrix;
  // attention
  q?: Matrix;
  k?: Matrix;
  v?: Matrix;
  o?: Matrix;
  nKv?: number;
  // FFN
  ffnNorm: Float64Array;
  dense?: SwiGlu;
  router?: Matrix;
  experts?: SwiGlu[];
  shared?: SwiGlu;
}

export interface GraniteReferenceHparams {
  nEmbd: number;
  nLayer: number;
  nVocab: number;
  eps: number;
  dConv: number;
  dInner: number;
  dState: number;
  nSsmHead: number;
  nGroup: number;
  nHead: number;
  headDim: number;
  nExpert: number;
  nExpertUsed: number;
  embeddingScale: number;
  residualScale: number;
  attentionScale: number;
  logitScale: number;
  rope: boolean;
  nRot: number;
  ropeFreqBase: number;
}

export interface GraniteReferenceState {
  conv: (Float64Array[] | null)[]; // per Mamba layer: K-1 previous xBC vectors, oldest first
  ssm: (Float64Array | null)[]; // [H][p][N]
  keys: (Float64Array[] | null)[]; // per attention layer: keys after RoPE
  values: (Float64Array[] | null)[];
  nPast: number;
}

const num = (v: GgufValue | undefined, key: string): number => {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  throw new Error(`reference: metadata ${key} missing or not a number`);
};
const opt = (v: GgufValue | undefined): number => (v === undefined ? 0 : num(v, '?'));

let rounding: ActivationRounding | undefined;

function matvec(m: Matrix, input: Float64Array): Float64Array {
  if (input.length !== m.cols) throw new Error(`matvec: ${input.length} != ${m.cols}`);
  const x = rounding ? rounding(m.type, Float32Array.from(input)) : input;
  const y = new Float64Array(m.rows);
  for (let r = 0; r < m.rows; r++) {
    let s = 0;
    const base = r * m.cols;
    for (let c = 0; c < m.cols; c++) s += m.w[base + c] * x[c];
    y[r] = s;
  }
  return y;
}

const silu = (v: number) => v / (1 + Math.exp(-v));
const softplus = (v: number) => (v > 20 ? v : Math.log1p(Math.exp(v)));

function swiglu(f: SwiGlu, x: Float64Array): Float64Array {
  const g = matvec(f.gate, x);
  const u = matvec(f.up, x);
  return matvec(f.down, g.map((v, i) => silu(v) * u[i]));
}

export class GraniteHybridReference {
  readonly hp: GraniteReferenceHparams;
  private readonly layers: Layer[] = [];
  private readonly embd: Matrix;
  private readonly outNorm: Float64Array;
  private readonly output: Matrix;

  constructor(file: GgufContents, decode: Decode, private readonly activationRounding?: ActivationRounding) {
    const kv = file.kv;
    if (kv.get('general.architecture') !== 'granitehybrid') throw new Error('reference: not a granitehybrid model');
    const k = (name: string) => kv.get(`granitehybrid.${name}`);
    const nLayer = num(k('block_count'), 'block_count');
    const nEmbd = num(k('embedding_length'), 'embedding_length');
    const nHead = num(k('attention.head_count'), 'head_count');
    const hkvRaw = k('attention.head_count_kv');
    const hkv = Array.isArray(hkvRaw) ? hkvRaw.map((x) => num(x, 'head_count_kv')) : new Array(nLayer).fill(num(hkvRaw ?? nHead, 'head_count_kv'));
    const headDim = k('attention.key_length') === undefined ? nEmbd / nHead : num(k('attention.key_length'), 'key_length');
    const tensor = (name: string): GgufTensor => {
      const t = file.tensors.get(name);
      if (!t) throw new Error(`reference: tensor ${name} missing`);
      return t;
    };
    const vec = (name: string) => decode(tensor(name));
    const mat = (name: string): Matrix => {
      const t = tensor(name);
      return { type: t.type, rows: t.ne[1] ?? 1, cols: t.ne[0], w: decode(t) };
    };
    // A stacked {cols, rows, n_expert} tensor as n_expert matrices.
    const stacked = (name: string): Matrix[] => {
      const t = tensor(name);
      const [cols, rows, n] = t.ne;
      const all = decode(t);
      return Array.from({ length: n }, (_, e) => ({ type: t.type, rows, cols, w: all.subarray(e * rows * cols, (e + 1) * rows * cols) }));
    };
    const swi = (p: string, suffix: string): SwiGlu => ({ gate: mat(`${p}ffn_gate${suffix}.weight`), up: mat(`${p}ffn_up${suffix}.weight`), down: mat(`${p}ffn_down${suffix}.weight`) });
    const nExpert = opt(k('expert_count'));
    for (let il = 0; il < nLayer; il++) {
      const p = `blk.${il}.`;
      const layer: Layer = { mixer: hkv[il] === 0 ? 'mamba' : 'attention', norm: vec(`${p}attn_norm.weight`), ffnNorm: vec(`${p}ffn_norm.weight`) };
      if (layer.mixer === 'mamba') {
        Object.assign(layer, {
          inProj: mat(`${p}ssm_in.weight`), convW: vec(`${p}ssm_conv1d.weight`), convB: vec(`${p}ssm_conv1d.bias`),
          dtBias: vec(`${p}ssm_dt.bias`), A: vec(`${p}ssm_a`), D: vec(`${p}ssm_d`), groupNorm: vec(`${p}ssm_norm.weight`),
          outProj: mat(`${p}ssm_out.weight`),
        });
      } else {
        Object.assign(layer, { q: mat(`${p}attn_q.weight`), k: mat(`${p}attn_k.weight`), v: mat(`${p}attn_v.weight`), o: mat(`${p}attn_output.weight`), nKv: hkv[il] });
      }
      if (nExpert > 0) {
        const [gate, up, down] = ['gate', 'up', 'down'].map((s) => stacked(`${p}ffn_${s}_exps.weight`));
        layer.router = mat(`${p}ffn_gate_inp.weight`);
        layer.experts = gate.map((g, e) => ({ gate: g, up: up[e], down: down[e] }));
        if (file.tensors.has(`${p}ffn_gate_shexp.weight`)) layer.shared = swi(p, '_shexp');
      } else {
        layer.dense = swi(p, '');
      }
      this.layers.push(layer);
    }
    this.embd = mat('token_embd.weight');
    this.outNorm = vec('output_norm.weight');
    this.output = file.tensors.has('output.weight') ? mat('output.weight') : this.embd;
    const rope = k('rope.scaling.finetuned');
    this.hp = {
      nEmbd, nLayer, nVocab: this.embd.rows, eps: num(k('attention.layer_norm_rms_epsilon'), 'eps'), nHead, headDim,
      dConv: num(k('ssm.conv_kernel'), 'ssm.conv_kernel'),
      dInner: num(k('ssm.inner_size'), 'ssm.inner_size'),
      dState: num(k('ssm.state_size'), 'ssm.state_size'),
      nSsmHead: num(k('ssm.time_step_rank'), 'ssm.time_step_rank'),
      nGroup: num(k('ssm.group_count'), 'ssm.group_count'),
      nExpert, nExpertUsed: opt(k('expert_used_count')),
      embeddingScale: opt(k('embedding_scale')), residualScale: opt(k('residual_scale')),
      attentionScale: opt(k('attention.scale')), logitScale: opt(k('logit_scale')),
      rope: rope === undefined ? true : rope === true,
      nRot: k('rope.dimension_count') === undefined ? headDim : num(k('rope.dimension_count'), 'rope.dimension_count'),
      ropeFreqBase: k('rope.freq_base') === undefined ? 10000 : num(k('rope.freq_base'), 'rope.freq_base'),
    };
  }

  newState(): GraniteReferenceState {
    const { dConv, dInner, dState, nGroup } = this.hp;
    const C = dInner + 2 * nGroup * dState;
    const m = (l: Layer) => l.mixer === 'mamba';
    return {
      conv: this.layers.map((l) => (m(l) ? Array.from({ length: dConv - 1 }, () => new Float64Array(C)) : null)),
      ssm: this.layers.map((l) => (m(l) ? new Float64Array(dInner * dState) : null)),
      keys: this.layers.map((l) => (m(l) ? null : [])),
      values: this.layers.map((l) => (m(l) ? null : [])),
      nPast: 0,
    };
  }

  /** Reads one token; returns the logits for the next one. */
  step(state: GraniteReferenceState, token: number): Float64Array {
    rounding = this.activationRounding;
    try {
      return this.stepInner(state, token);
    } finally {
      rounding = undefined;
    }
  }

  /** Logits after every token of `tokens`, from a fresh state (or the given one). */
  forward(tokens: number[], state = this.newState()): Float64Array[] {
    return tokens.map((t) => this.step(state, t));
  }

  private stepInner(s: GraniteReferenceState, token: number): Float64Array {
    const { nEmbd, eps, embeddingScale, residualScale, logitScale } = this.hp;
    if (token < 0 || token >= this.embd.rows) throw new Error(`reference: token ${token} out of range`);
    const scaleOr1 = (v: number) => (v === 0 ? 1 : v);
    const h = this.embd.w.slice(token * nEmbd, (token + 1) * nEmbd).map((v) => v * scaleOr1(embeddingScale));
    this.layers.forEach((layer, il) => {
      const x = rmsNorm(h, layer.norm, eps);
      const y = layer.mixer === 'mamba' ? this.mamba(layer, il, s, x) : this.attention(layer, il, s, x);
      for (let i = 0; i < nEmbd; i++) h[i] += scaleOr1(residualScale) * y[i];
      const f = this.ffn(layer, rmsNorm(h, layer.ffnNorm, eps));
      for (let i = 0; i < nEmbd; i++) h[i] += scaleOr1(residualScale) * f[i];
    });
    s.nPast++;
    return matvec(this.output, rmsNorm(h, this.outNorm, eps)).map((v) => v / scaleOr1(logitScale));
  }

  private ffn(l: Layer, x: Float64Array): Float64Array {
    if (l.dense) return swiglu(l.dense, x);
    const logits = matvec(l.router!, x);
    const max = Math.max(...logits);
    const e = logits.map((v) => Math.exp(v - max));
    const sum = e.reduce((a, b) => a + b, 0);
    const p = e.map((v) => v / sum);
    const top = [...p.keys()].sort((a, b) => p[b] - p[a] || a - b).slice(0, this.hp.nExpertUsed);
    const wsum = top.reduce((a, i) => a + p[i], 0);
    const out = l.shared ? swiglu(l.shared, x) : new Float64Array(x.length);
    for (const i of top) {
      const y = swiglu(l.experts![i], x);
      for (let j = 0; j < out.length; j++) out[j] += (p[i] / wsum) * y[j];
    }
    return out;
  }

  // RoPE, NORM mode: pairs (x[2i], x[2i+1]) of each head rotate by pos * base^(-2i/n_rot).
  private rope(v: Float64Array, nHeads: number, pos: number): Float64Array {
    const { headDim, nRot, ropeFreqBase } = this.hp;
    const out = Float64Array.from(v);
    for (let h = 0; h < nHeads; h++) {
      for (let i = 0; i < nRot; i += 2) {
        const theta = pos * Math.pow(ropeFreqBase, -i / nRot);
        const [c, sn] = [Math.cos(theta), Math.sin(theta)];
        const a = v[h * headDim + i], b = v[h * headDim + i + 1];
        out[h * headDim + i] = a * c - b * sn;
        out[h * headDim + i + 1] = a * sn + b * c;
      }
    }
    return out;
  }

  private attention(l: Layer, il: number, s: GraniteReferenceState, x: Float64Array): Float64Array {
    const { headDim: hd, nHead, attentionScale, rope } = this.hp;
    const nKv = l.nKv!;
    const pos = s.nPast;
    const posEnc = (v: Float64Array, heads: number) => (rope ? this.rope(v, heads, pos) : v);
    const q = posEnc(matvec(l.q!, x), nHead);
    s.keys[il]!.push(posEnc(matvec(l.k!, x), nKv));
    s.values[il]!.push(matvec(l.v!, x));
    const keys = s.keys[il]!, values = s.values[il]!;
    const scale = attentionScale === 0 ? 1 / Math.sqrt(hd) : attentionScale;
    const out = new Float64Array(nHead * hd);
    const groupSize = nHead / nKv;
    for (let h = 0; h < nHead; h++) {
      const kvh = Math.floor(h / groupSize);
      const scores = keys.map((kk) => {
        let dot = 0;
        for (let i = 0; i < hd; i++) dot += q[h * hd + i] * kk[kvh * hd + i];
        return dot * scale;
      });
      const max = Math.max(...scores);
      const w = scores.map((v) => Math.exp(v - max));
      const sum = w.reduce((a, b) => a + b, 0);
      for (let t = 0; t < values.length; t++) {
        for (let i = 0; i < hd; i++) out[h * hd + i] += (w[t] / sum) * values[t][kvh * hd + i];
      }
    }
    return matvec(l.o!, out);
  }

  // Mamba-2 exactly as test/reference/nemotron-h.ts (llama.cpp build_mamba2_layer).
  private mamba(l: Layer, il: number, s: GraniteReferenceState, x: Float64Array): Float64Array {
    const { dConv: K, dInner: Din, dState: N, nSsmHead: H, nGroup: G, eps } = this.hp;
    const C = Din + 2 * G * N;
    const p = Din / H;
    const zxbcdt = matvec(l.inProj!, x);
    const z = zxbcdt.subarray(0, Din);
    const xBCin = zxbcdt.slice(Din, Din + C);
    const dt = zxbcdt.subarray(2 * Din + 2 * G * N, 2 * Din + 2 * G * N + H);
    const prev = s.conv[il]!;
    const xBC = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      let acc = l.convB![c];
      for (let k = 0; k < K - 1; k++) acc += prev[k][c] * l.convW![c * K + k];
      acc += xBCin[c] * l.convW![c * K + K - 1];
      xBC[c] = silu(acc);
    }
    prev.shift();
    prev.push(xBCin);
    const xs = xBC.subarray(0, Din);
    const B = xBC.subarray(Din, Din + G * N);
    const Cm = xBC.subarray(Din + G * N, Din + 2 * G * N);
    const state = s.ssm[il]!;
    const y = new Float64Array(Din);
    for (let hh = 0; hh < H; hh++) {
      const g = Math.floor(hh / (H / G));
      const dtH = softplus(dt[hh] + l.dtBias![hh]);
      const dA = Math.exp(dtH * l.A![hh]);
      for (let i = 0; i < p; i++) {
        const xi = xs[hh * p + i];
        let acc = 0;
        for (let n = 0; n < N; n++) {
          const idx = (hh * p + i) * N + n;
          state[idx] = state[idx] * dA + B[g * N + n] * xi * dtH;
          acc += state[idx] * Cm[g * N + n];
        }
        y[hh * p + i] = acc + xi * l.D![hh];
      }
    }
    for (let i = 0; i < Din; i++) y[i] *= silu(z[i]);
    const gs = Din / G;
    for (let g = 0; g < G; g++) {
      const chunk = y.subarray(g * gs, (g + 1) * gs);
      chunk.set(rmsNorm(chunk, l.groupNorm!.subarray(g * gs, (g + 1) * gs), eps));
    }
    return matvec(l.outProj!, y);
  }
}
