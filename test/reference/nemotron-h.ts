// A float64 reference of llama.cpp's `nemotron_h` forward pass, written the plainest way: one token at a
// time, a sequential Mamba-2 scan, full attention over a KV list, no chunking and no speed tricks, so a
// reader can check it against the formulas at a glance. Formulas: /shared/docs/nemotron-h-gguf.md (read
// off llama.cpp's src/models/nemotron-h.cpp, src/models/mamba-base.cpp build_mamba2_layer,
// ggml-cpu ops.cpp ssm_conv / ssm_scan). Used only by tests, to check the C++ runtime.
import type { GgufContents, GgufTensor, GgufValue } from './gguf-read';

export type Decode = (t: GgufTensor) => Float64Array;
/**
 * Optional: what a matmul multiplies the weights with, given the weight's ggml type and the f32-rounded
 * activations. llama.cpp converts activations to the weight's vec_dot type (Q8_0, Q8_K, f16, bf16) first;
 * passing that conversion here makes the reference follow the same arithmetic. Default: exact.
 */
export type ActivationRounding = (weightType: number, x: Float32Array) => Float64Array;

type LayerKind = 'mamba' | 'attention' | 'mlp';

interface Matrix {
  type: number; // ggml type of the stored weight
  rows: number; // ggml ne[1]
  cols: number; // ggml ne[0]
  w: Float64Array; // row-major [rows][cols]
}

interface MambaLayer {
  kind: 'mamba';
  norm: Float64Array;
  inProj: Matrix;
  convW: Float64Array; // [C][K]
  convB: Float64Array; // [C]
  dtBias: Float64Array; // [H]
  A: Float64Array; // [H], already -exp(A_log)
  D: Float64Array; // [H]
  groupNorm: Float64Array; // [D_in] (G groups of D_in/G)
  outProj: Matrix;
}
interface AttentionLayer {
  kind: 'attention';
  norm: Float64Array;
  q: Matrix;
  k: Matrix;
  v: Matrix;
  o: Matrix;
  nHead: number;
  nKv: number;
}
interface MlpLayer {
  kind: 'mlp';
  norm: Float64Array;
  up: Matrix;
  down: Matrix;
}
type Layer = MambaLayer | AttentionLayer | MlpLayer;

export interface ReferenceHparams {
  nEmbd: number;
  nLayer: number;
  nVocab: number;
  eps: number;
  dConv: number;
  dInner: number;
  dState: number;
  nSsmHead: number;
  nGroup: number;
  headDim: number;
  kinds: LayerKind[];
}

/** Per-sequence state: conv and SSM state of each Mamba layer, K/V lists of each attention layer. */
export interface ReferenceState {
  conv: (Float64Array[] | null)[]; // per layer: K-1 previous xBC vectors, oldest first
  ssm: (Float64Array | null)[]; // per layer: [H][p][N]
  keys: (Float64Array[] | null)[];
  values: (Float64Array[] | null)[];
  nPast: number;
}

const num = (v: GgufValue | undefined, key: string): number => {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  throw new Error(`reference: metadata ${key} missing or not a number`);
};

function perLayer(kv: Map<string, GgufValue>, key: string, n: number): number[] {
  const v = kv.get(key);
  if (Array.isArray(v)) return v.map((x) => num(x, key));
  return new Array(n).fill(num(v, key));
}

export function rmsNorm(x: Float64Array, w: Float64Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const scale = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * scale * w[i]);
}

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
const softplus = (v: number) => (v > 20 ? v : Math.log1p(Math.exp(v))); // ggml-impl.h ggml_softplus

export class NemotronHReference {
  readonly hp: ReferenceHparams;
  private readonly layers: Layer[];
  private readonly embd: Matrix; // [V][E]
  private readonly outNorm: Float64Array;
  private readonly output: Matrix; // [V][E]

  constructor(file: GgufContents, decode: Decode, private readonly activationRounding?: ActivationRounding) {
    const kv = file.kv;
    const arch = kv.get('general.architecture');
    if (arch !== 'nemotron_h') throw new Error(`reference: architecture ${String(arch)} is not nemotron_h`);
    const k = (name: string) => `nemotron_h.${name}`;
    const nLayer = num(kv.get(k('block_count')), 'block_count');
    const nEmbd = num(kv.get(k('embedding_length')), 'embedding_length');
    const ff = perLayer(kv, k('feed_forward_length'), nLayer);
    const hkv = perLayer(kv, k('attention.head_count_kv'), nLayer);
    const nHead = perLayer(kv, k('attention.head_count'), nLayer)[0];
    const eps = num(kv.get(k('attention.layer_norm_rms_epsilon')) ?? kv.get(k('attention.layer_norm_epsilon')), 'eps');
    const tensor = (name: string) => {
      const t = file.tensors.get(name);
      if (!t) throw new Error(`reference: tensor ${name} missing`);
      return t;
    };
    const vec = (name: string) => decode(tensor(name));
    const mat = (name: string): Matrix => {
      const t = tensor(name);
      return { type: t.type, rows: t.ne[1] ?? 1, cols: t.ne[0], w: decode(t) };
    };
    const kinds: LayerKind[] = [];
    this.layers = [];
    const headDim = num(kv.get(k('attention.key_length')) ?? nEmbd / nHead, 'key_length');
    for (let il = 0; il < nLayer; il++) {
      const p = `blk.${il}.`;
      const norm = vec(`${p}attn_norm.weight`);
      if (hkv[il] === 0 && ff[il] === 0) {
        kinds.push('mamba');
        this.layers.push({
          kind: 'mamba', norm, inProj: mat(`${p}ssm_in.weight`), convW: vec(`${p}ssm_conv1d.weight`),
          convB: vec(`${p}ssm_conv1d.bias`), dtBias: vec(`${p}ssm_dt.bias`), A: vec(`${p}ssm_a`), D: vec(`${p}ssm_d`),
          groupNorm: vec(`${p}ssm_norm.weight`), outProj: mat(`${p}ssm_out.weight`),
        });
      } else if (ff[il] === 0) {
        kinds.push('attention');
        this.layers.push({
          kind: 'attention', norm, q: mat(`${p}attn_q.weight`), k: mat(`${p}attn_k.weight`), v: mat(`${p}attn_v.weight`),
          o: mat(`${p}attn_output.weight`), nHead, nKv: hkv[il],
        });
      } else {
        kinds.push('mlp');
        this.layers.push({ kind: 'mlp', norm, up: mat(`${p}ffn_up.weight`), down: mat(`${p}ffn_down.weight`) });
      }
    }
    this.embd = mat('token_embd.weight');
    this.outNorm = vec('output_norm.weight');
    this.output = file.tensors.has('output.weight') ? mat('output.weight') : this.embd; // tied when absent
    this.hp = {
      nEmbd, nLayer, nVocab: this.embd.rows, eps, headDim, kinds,
      dConv: num(kv.get(k('ssm.conv_kernel')), 'ssm.conv_kernel'),
      dInner: num(kv.get(k('ssm.inner_size')), 'ssm.inner_size'),
      dState: num(kv.get(k('ssm.state_size')), 'ssm.state_size'),
      nSsmHead: num(kv.get(k('ssm.time_step_rank')), 'ssm.time_step_rank'),
      nGroup: num(kv.get(k('ssm.group_count')), 'ssm.group_count'),
    };
  }

  newState(): ReferenceState {
    const { dConv, dInner, dState, nGroup } = this.hp;
    const C = dInner + 2 * nGroup * dState;
    return {
      conv: this.layers.map((l) => (l.kind === 'mamba' ? Array.from({ length: dConv - 1 }, () => new Float64Array(C)) : null)),
      ssm: this.layers.map((l) => (l.kind === 'mamba' ? new Float64Array(dInner * dState) : null)),
      keys: this.layers.map((l) => (l.kind === 'attention' ? [] : null)),
      values: this.layers.map((l) => (l.kind === 'attention' ? [] : null)),
      nPast: 0,
    };
  }

  /** Reads one token; returns the logits for the next one. */
  step(state: ReferenceState, token: number): Float64Array {
    rounding = this.activationRounding;
    try {
      return this.stepInner(state, token);
    } finally {
      rounding = undefined;
    }
  }

  private stepInner(state: ReferenceState, token: number): Float64Array {
    const { nEmbd, eps } = this.hp;
    if (token < 0 || token >= this.embd.rows) throw new Error(`reference: token ${token} out of range`);
    const h = this.embd.w.slice(token * nEmbd, (token + 1) * nEmbd);
    this.layers.forEach((layer, il) => {
      const x = rmsNorm(h, layer.norm, eps);
      const y = layer.kind === 'mamba' ? this.mamba(layer, il, state, x) : layer.kind === 'attention' ? this.attention(layer, il, state, x) : this.mlp(layer, x);
      for (let i = 0; i < nEmbd; i++) h[i] += y[i];
    });
    state.nPast++;
    return matvec(this.output, rmsNorm(h, this.outNorm, eps));
  }

  /** Logits after every token of `tokens`, from a fresh state (or the given one). */
  forward(tokens: number[], state = this.newState()): Float64Array[] {
    return tokens.map((t) => this.step(state, t));
  }

  private mlp(l: MlpLayer, x: Float64Array): Float64Array {
    const up = matvec(l.up, x).map((v) => (v > 0 ? v * v : 0)); // squared ReLU, no gate
    return matvec(l.down, up);
  }

  private attention(l: AttentionLayer, il: number, s: ReferenceState, x: Float64Array): Float64Array {
    const hd = this.hp.headDim;
    const q = matvec(l.q, x);
    s.keys[il]!.push(matvec(l.k, x));
    s.values[il]!.push(matvec(l.v, x));
    const keys = s.keys[il]!, values = s.values[il]!;
    const out = new Float64Array(l.nHead * hd);
    const groupSize = l.nHead / l.nKv;
    for (let h = 0; h < l.nHead; h++) {
      const kvh = Math.floor(h / groupSize); // no RoPE in nemotron_h; kq_scale = 1/sqrt(head_dim)
      const scores = keys.map((kv) => {
        let dot = 0;
        for (let i = 0; i < hd; i++) dot += q[h * hd + i] * kv[kvh * hd + i];
        return dot / Math.sqrt(hd);
      });
      const max = Math.max(...scores);
      const w = scores.map((v) => Math.exp(v - max));
      const sum = w.reduce((a, b) => a + b, 0);
      for (let t = 0; t < values.length; t++) {
        for (let i = 0; i < hd; i++) out[h * hd + i] += (w[t] / sum) * values[t][kvh * hd + i];
      }
    }
    return matvec(l.o, out);
  }

  private mamba(l: MambaLayer, il: number, s: ReferenceState, x: Float64Array): Float64Array {
    const { dConv: K, dInner: Din, dState: N, nSsmHead: H, nGroup: G, eps } = this.hp;
    const C = Din + 2 * G * N;
    const p = Din / H;
    const zxbcdt = matvec(l.inProj, x);
    const z = zxbcdt.subarray(0, Din);
    const xBCin = zxbcdt.slice(Din, Din + C);
    const dt = zxbcdt.subarray(2 * Din + 2 * G * N, 2 * Din + 2 * G * N + H);

    // causal depthwise conv1d: taps k = 0..K-2 over the previous inputs (oldest first), k = K-1 the current one
    const prev = s.conv[il]!;
    const xBC = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      let acc = l.convB[c];
      for (let k = 0; k < K - 1; k++) acc += prev[k][c] * l.convW[c * K + k];
      acc += xBCin[c] * l.convW[c * K + K - 1];
      xBC[c] = silu(acc);
    }
    prev.shift();
    prev.push(xBCin);

    const xs = xBC.subarray(0, Din);
    const B = xBC.subarray(Din, Din + G * N);
    const Cm = xBC.subarray(Din + G * N, Din + 2 * G * N);
    const state = s.ssm[il]!; // [H][p][N]
    const y = new Float64Array(Din);
    for (let hh = 0; hh < H; hh++) {
      const g = Math.floor(hh / (H / G));
      const dtH = softplus(dt[hh] + l.dtBias[hh]);
      const dA = Math.exp(dtH * l.A[hh]);
      for (let i = 0; i < p; i++) {
        const xi = xs[hh * p + i];
        let acc = 0;
        for (let n = 0; n < N; n++) {
          const idx = (hh * p + i) * N + n;
          state[idx] = state[idx] * dA + B[g * N + n] * xi * dtH;
          acc += state[idx] * Cm[g * N + n];
        }
        y[hh * p + i] = acc + xi * l.D[hh];
      }
    }
    // gate before the norm (ggml_swiglu_split(z, y)), then RMSNorm per group
    for (let i = 0; i < Din; i++) y[i] *= silu(z[i]);
    const gs = Din / G;
    for (let g = 0; g < G; g++) {
      const chunk = y.subarray(g * gs, (g + 1) * gs);
      chunk.set(rmsNorm(chunk, l.groupNorm.subarray(g * gs, (g + 1) * gs), eps));
    }
    return matvec(l.outProj, y);
  }
}
