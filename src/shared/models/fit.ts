// Whether a model file fits this machine: its weights (the file, memory-mapped) plus a working margin for
// activations, the few attention layers' KV cache and one sequence's Mamba-2 state, against the GPU's free
// memory and the computer's memory. Checkpoints have their own budget (hybridCopilot.stateMemoryBudgetMB)
// and are evicted to fit it, so they are not counted here.
import { formatBytes } from '../format';

export interface MemoryFacts {
  gpus: readonly { name: string; freeMemory: number; totalMemory: number }[];
  ramTotal: number;
  ramFree: number;
}

export interface FitResult {
  /** Where it can run well. */
  verdict: 'gpu' | 'cpu' | 'tight' | 'no';
  label: string;
}

/** Working memory beside the weights (activations, KV of the attention layers at 16k tokens, buffers). */
export const WORKING_MARGIN = 768 * 1024 * 1024;

export function modelFit(fileSize: number, m: MemoryFacts): FitResult {
  const need = fileSize + WORKING_MARGIN;
  const gpu = [...m.gpus].sort((a, b) => b.freeMemory - a.freeMemory)[0];
  if (gpu && need <= gpu.freeMemory) return { verdict: 'gpu', label: `fits the GPU (${gpu.name}, ${formatBytes(gpu.freeMemory)} free)` };
  // The file is memory-mapped: the OS can page it, but below the total it thrashes.
  if (need <= m.ramFree) return { verdict: 'cpu', label: `fits in memory for the CPU (${formatBytes(m.ramFree)} free${gpu ? `; the GPU has ${formatBytes(gpu.freeMemory)} free` : ''})` };
  if (need <= m.ramTotal) return { verdict: 'tight', label: `fits the computer's ${formatBytes(m.ramTotal)} only if other programs give memory back (${formatBytes(m.ramFree)} free)` };
  return { verdict: 'no', label: `needs about ${formatBytes(need)}; this computer has ${formatBytes(m.ramTotal)}${gpu ? `, the GPU ${formatBytes(gpu.totalMemory)}` : ''}` };
}
