// llama.cpp as the conformance and benchmark peer, through node-llama-cpp's prebuilt CPU binaries
// (nothing is built or downloaded). Shared by the conformance tests and the benchmarks.
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

// tsc turns import() into require(), which cannot load node-llama-cpp (an ES module); keep a real import().
const importEsm = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<any>;

export const SKIP_PEER = process.env.HYBRID_SKIP_PEER === '1';

/** node-llama-cpp's module, or an error saying why it cannot be loaded. */
export async function loadNodeLlamaCpp(): Promise<{ module?: any; error?: string }> {
  const specifier = process.env.HYBRID_NODE_LLAMA_CPP
    ? pathToFileURL(path.join(process.env.HYBRID_NODE_LLAMA_CPP, 'node-llama-cpp', 'dist', 'index.js')).href
    : 'node-llama-cpp';
  try {
    return { module: await importEsm(specifier) };
  } catch (e) {
    return { error: `cannot load node-llama-cpp (${specifier}): ${(e as Error).message}` };
  }
}

/** A CPU-only llama instance that never builds or downloads. */
export async function cpuLlama(module: any, threads = 2): Promise<any> {
  return module.getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: 'error', maxThreads: threads });
}

/**
 * A context set up for exact comparisons: F32 KV cache (llama.cpp defaults to F16), no flash attention.
 */
export async function exactContext(model: any, contextSize: number, threads = 2, batchSize = 512): Promise<any> {
  return model.createContext({
    contextSize,
    batchSize: Math.min(batchSize, contextSize),
    sequences: 1,
    flashAttention: false,
    threads,
    experimentalKvCacheKeyType: 'F32',
    experimentalKvCacheValueType: 'F32',
  });
}

/** Logits after every token, as dense arrays over the vocabulary. */
export async function peerLogits(sequence: any, tokens: number[], nVocab: number): Promise<Float32Array[]> {
  const res = await sequence.controlledEvaluate(tokens.map((t) => [t, { generateNext: { logits: true } }]));
  return res.map((r: any, i: number) => {
    const map: Map<number, number> | undefined = r?.next?.logits;
    if (!map) throw new Error(`llama.cpp returned no logits at position ${i}`);
    const out = new Float32Array(nVocab).fill(NaN);
    for (const [tok, v] of map) out[tok] = v;
    return out;
  });
}
