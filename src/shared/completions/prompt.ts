// Stage 2: the request's shape for the model at hand. Where the GGUF vocabulary has fill-in-the-middle
// tokens (tokenizer.ggml.fim_pre/suf/mid_token_id, e.g. Granite 4.0) the worker builds
//   [BOS] <fim_prefix> header prefix | <fim_suffix> suffix-window <fim_middle>
// and otherwise (Nemotron-H) prefix-only:
//   [BOS] header prefix |
// The part before `|` is the document's session: it ends at the cursor, so typing there only appends to
// it; the part after `|` is read in a fork of the session and dropped (design.md, "A completion request").
// The header (path and language, as a comment) goes first because it is stable: it changes only when the
// file is renamed, so it never invalidates the state of the text below it. Snippets from other files,
// which change as the user works elsewhere, must not go there (every change would re-read the whole
// document): their place is the fork, after the prefix. With prefix-only models the suffix is not read;
// it serves the post-processing (stop strings, de-duplication).
import type { ModelInfo } from '../protocol';
import type { CompletionContext, Placement } from './context';
import { commentLine } from './languages';

export type PromptShape = 'fim' | 'prefix';

export interface ModelFacts {
  shape: PromptShape;
  name: string;
}

export function modelFacts(info: ModelInfo): ModelFacts {
  const t = info.tokenizer;
  const fim = t.present && t.fimPrefix !== null && t.fimSuffix !== null && t.fimMiddle !== null;
  return { shape: fim ? 'fim' : 'prefix', name: info.name ?? info.path.split(/[\\/]/).pop() ?? info.path };
}

/** The context header: the file's path and language as comment lines of that language. */
export function contextHeader(ctx: Pick<CompletionContext, 'languageId' | 'path'>): string {
  return (ctx.path ? commentLine(ctx.languageId, `Path: ${ctx.path}`) : '') + commentLine(ctx.languageId, `Language: ${ctx.languageId}`);
}

export interface ShapeOptions {
  /** Tokens to generate at most: one line / several lines. */
  maxTokensLine?: number;
  maxTokensBlock?: number;
  /** Lines of the suffix window read in the fork (FIM models). */
  suffixLines?: number;
  /** Tokens of the suffix window at most (the worker's cap). */
  suffixTokensMax?: number;
}

export interface RequestShape {
  maxTokens: number;
  /** Strings that end the generation in the worker (not part of the text). */
  stop: string[];
  /** FIM: tokens of the text after the cursor read in the fork (0 for prefix-only models). */
  suffixTokens: number;
  /** What the worker should read before the document (not sent yet: the protocol has no field for it). */
  header: string;
}

export const SHAPE_DEFAULTS: Required<ShapeOptions> = { maxTokensLine: 48, maxTokensBlock: 160, suffixLines: 16, suffixTokensMax: 128 };

/** Characters per token the suffix window's token budget assumes (code in BPE vocabularies: 3-4). */
const CHARS_PER_TOKEN = 3;

export function shapeRequest(
  ctx: CompletionContext,
  where: Extract<Placement, { ok: true }>,
  model: ModelFacts,
  options: ShapeOptions = {},
): RequestShape {
  const o = { ...SHAPE_DEFAULTS, ...options };
  const stop: string[] = [];
  if (!where.multiline) {
    stop.push('\n');
  } else {
    stop.push('\n\n\n');
    // The document's next non-blank line, written again by the model, ends the completion before it.
    const next = ctx.afterLine.split('\n').slice(1).find((l) => l.trim() !== '');
    if (next !== undefined && next.trim().length >= 1) {
      const s = `\n${next.replace(/\s+$/, '')}`;
      if (s.length <= 256) stop.push(s);
    }
  }
  let suffixTokens = 0;
  if (model.shape === 'fim') {
    const window = ctx.lineSuffix + ctx.afterLine.split('\n').slice(0, o.suffixLines + 1).join('\n');
    suffixTokens = Math.min(o.suffixTokensMax, Math.ceil(window.length / CHARS_PER_TOKEN) + 2);
  }
  return {
    maxTokens: where.multiline ? o.maxTokensBlock : o.maxTokensLine,
    stop,
    suffixTokens,
    header: contextHeader(ctx),
  };
}
