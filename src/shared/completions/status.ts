// Wording of the status bar item and its menu: model, device, the last completion's latency and speed.
import type { GenerationStats } from '../protocol';

export interface CompletionReport {
  /** From the provider's call to the text being ready (debounce excluded), ms. */
  latencyMs: number;
  fromCache: boolean;
  stats?: GenerationStats;
}

export function tokensPerSecond(stats: GenerationStats): number | undefined {
  return stats.decodeMs > 0 && stats.generatedTokens > 1 ? (1000 * (stats.generatedTokens - 1)) / stats.decodeMs : undefined;
}

/** The status bar text after the device: `· 182 ms · 41 tok/s`. */
export function completionBadge(r: CompletionReport | undefined): string {
  if (!r) return '';
  const tps = r.stats ? tokensPerSecond(r.stats) : undefined;
  return ` · ${Math.round(r.latencyMs)} ms` + (tps !== undefined ? ` · ${tps.toFixed(0)} tok/s` : '');
}

/** Tooltip lines about the last completion. */
export function completionTooltip(r: CompletionReport | undefined): string[] {
  if (!r) return ['No completion yet.'];
  if (r.fromCache || !r.stats) return [`Last completion: ${Math.round(r.latencyMs)} ms (from the cache: typed through a shown completion)`];
  const s = r.stats;
  const tps = tokensPerSecond(s);
  return [
    `Last completion: ${Math.round(r.latencyMs)} ms, first token ${Math.round(s.firstTokenMs)} ms in the runtime`,
    `${s.generatedTokens} tokens${tps !== undefined ? ` at ${tps.toFixed(1)} tok/s` : ''}`,
    `Prompt ${s.promptTokens} tokens: ${s.keptTokens} kept from the last request, ${s.readTokens} read` + (s.rereadTokens ? ` (${s.rereadTokens} of them re-read from a checkpoint)` : ''),
  ];
}

/** Inline completions on for this language? (`*` is the default for languages not listed; on when unset.) */
export function completionsEnabled(map: Record<string, boolean> | undefined, languageId: string): boolean {
  return map?.[languageId] ?? map?.['*'] ?? true;
}
