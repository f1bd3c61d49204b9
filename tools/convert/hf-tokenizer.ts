// tokenizer.json (+ tokenizer_config.json, chat_template.jinja, config.json) -> the GGUF tokenizer
// metadata llama.cpp's converter writes for NemotronH (conversion/nemotron.py NemotronHModel.set_vocab and
// gguf-py/gguf/vocab.py SpecialVocab): byte-level BPE ("gpt2"), tokens padded to the vocabulary size with
// [PADi] (type unused), added tokens control (special, or looking special) or user-defined, merges as
// "a b" strings, bos/eos/unk/pad ids, add_bos_token = true, the chat template. tokenizer.ggml.pre is detected
// from the pre-tokenizer's regex (llama.cpp derives it from a hash of test encodings; the regex is what
// decides the split); FIM token ids are looked up by text the way llama.cpp's loader does.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConvertError } from './safetensors';

export const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

// llama.cpp's LLAMA3 split (src/llama-vocab.cpp; tokenizer.json writes the first alternative as (?i:...)).
export const LLAMA3_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const LLAMA3_REGEX_LLAMACPP =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
// GPT-2's split (ByteLevel with use_regex: true).
export const GPT2_REGEX = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

const KNOWN_SPLITS: Array<{ regex: string; pre: string }> = [
  { regex: LLAMA3_REGEX, pre: 'llama3' },
  { regex: LLAMA3_REGEX_LLAMACPP, pre: 'llama3' },
  { regex: GPT2_REGEX, pre: 'gpt-2' },
];

// The texts llama.cpp's loader recognizes as FIM tokens (src/llama-vocab.cpp, load: "find FIM_PRE token" …).
const FIM_TEXTS: Record<string, string[]> = {
  fim_pre_token_id: ['<|fim_prefix|>', '<fim-prefix>', '<fim_prefix>', '<｜fim▁begin｜>', '<PRE>', '▁<PRE>', '<|code_prefix|>', '<|prefix|>'],
  fim_suf_token_id: ['<|fim_suffix|>', '<fim-suffix>', '<fim_suffix>', '<｜fim▁hole｜>', '<SUF>', '▁<SUF>', '<|code_suffix|>', '<|suffix|>'],
  fim_mid_token_id: ['<|fim_middle|>', '<fim-middle>', '<fim_middle>', '<｜fim▁end｜>', '<MID>', '▁<MID>', '<|code_middle|>', '<|middle|>'],
  fim_pad_token_id: ['<|fim_pad|>', '<fim-pad>', '<fim_pad>', '<PAD>', '[PAD]'],
  fim_rep_token_id: ['<|fim_repo|>', '<|repo_name|>', '<fim-repo>', '<REPO>', '<reponame>'],
  fim_sep_token_id: ['<|file_sep|>'],
};

export interface GgufTokenizer {
  model: 'gpt2';
  pre: string;
  tokens: string[];
  tokenTypes: number[];
  merges: string[];
  /** tokenizer.ggml.<key> (u32): bos_token_id, eos_token_id, …, fim_*_token_id. */
  ids: Record<string, number>;
  addBos: boolean;
  addEos?: boolean;
  chatTemplate?: string;
  /** Notes for the user (e.g. a setting llama.cpp overrides). */
  warnings: string[];
}

function readJson(file: string, what: string): any {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConvertError(`${what}: ${(e as Error).message}`);
  }
}

function looksSpecial(t: string): boolean {
  return ['<pad>', '<mask>', '<2mass>', '[@BOS@]'].includes(t) ||
    (t.startsWith('<|') && t.endsWith('|>')) || (t.startsWith('<｜') && t.endsWith('｜>')) ||
    (t.startsWith('<unused') && t.endsWith('>'));
}

/** The pre-tokenizer name llama.cpp needs for this tokenizer.json, or a ConvertError. */
export function detectPre(tok: any): string {
  const pt = tok?.pre_tokenizer;
  const describe = JSON.stringify(pt)?.slice(0, 400);
  const list: any[] = !pt ? [] : pt.type === 'Sequence' ? pt.pretokenizers ?? [] : [pt];
  const splits = list.filter((p) => p?.type === 'Split');
  const byteLevel = list.filter((p) => p?.type === 'ByteLevel');
  const others = list.filter((p) => p?.type !== 'Split' && p?.type !== 'ByteLevel');
  if (byteLevel.length !== 1 || others.length) {
    throw new ConvertError(`tokenizer.json: unsupported pre_tokenizer (a byte-level BPE needs exactly one ByteLevel, optionally after one Split): ${describe}`);
  }
  if (byteLevel[0].add_prefix_space) throw new ConvertError('tokenizer.json: ByteLevel add_prefix_space=true is not supported by llama.cpp\'s BPE');
  let regex: string | undefined;
  if (splits.length === 1) {
    const s = splits[0];
    if (byteLevel[0].use_regex) throw new ConvertError('tokenizer.json: a Split followed by ByteLevel with use_regex=true splits twice; not supported');
    if (s.invert || (s.behavior && s.behavior !== 'Isolated')) throw new ConvertError(`tokenizer.json: Split behavior ${s.behavior}${s.invert ? ' inverted' : ''} is not supported (Isolated)`);
    regex = s.pattern?.Regex;
    if (typeof regex !== 'string') throw new ConvertError(`tokenizer.json: Split pattern must be a Regex, got ${JSON.stringify(s.pattern)}`);
  } else if (splits.length === 0) {
    if (byteLevel[0].use_regex === false) throw new ConvertError('tokenizer.json: ByteLevel without a regex and no Split: no pre-tokenizer llama.cpp knows');
    regex = GPT2_REGEX;
  } else {
    throw new ConvertError(`tokenizer.json: ${splits.length} Split pre-tokenizers; only one is supported`);
  }
  const known = KNOWN_SPLITS.find((k) => k.regex === regex);
  if (!known) {
    throw new ConvertError(
      `tokenizer.json: unknown pre-tokenizer regex ${JSON.stringify(regex)}; supported: llama3 (${JSON.stringify(LLAMA3_REGEX)}) and gpt-2 (${JSON.stringify(GPT2_REGEX)})`,
    );
  }
  return known.pre;
}

function mergeStrings(merges: unknown): string[] {
  if (!Array.isArray(merges) || merges.length === 0) return [];
  if (typeof merges[0] === 'string') return merges as string[];
  // transformers >= 4.45 writes [left, right] pairs; spaces inside a part are written as U+0120 (gguf-py vocab.py).
  return (merges as unknown[]).map((m, i) => {
    if (!Array.isArray(m) || m.length !== 2 || typeof m[0] !== 'string' || typeof m[1] !== 'string') {
      throw new ConvertError(`tokenizer.json: merge ${i} is neither "a b" nor [a, b]`);
    }
    return m.map((part: string) => part.replace(/ /g, '\u0120')).join(' ');
  });
}

/** Reads the tokenizer files of `dir`; `vocabSize` is the config's (padded here to a multiple of 8, as llama.cpp does). */
export function readHfTokenizer(dir: string, config: Record<string, any>, vocabSize: number): GgufTokenizer {
  const file = path.join(dir, 'tokenizer.json');
  if (!fs.existsSync(file)) throw new ConvertError(`${dir}: no tokenizer.json (only byte-level BPE tokenizers in tokenizer.json are supported)`);
  const tok = readJson(file, 'tokenizer.json');
  const model = tok?.model;
  if (!model || model.type !== 'BPE') throw new ConvertError(`tokenizer.json: model type ${JSON.stringify(model?.type)} is not supported (BPE)`);
  if (model.byte_fallback) throw new ConvertError('tokenizer.json: byte_fallback BPE (SentencePiece style) is not supported; a byte-level BPE is');
  const pre = detectPre(tok);
  const warnings: string[] = [];
  if (pre === 'llama3' && model.ignore_merges === false) {
    warnings.push('tokenizer.json has ignore_merges=false, but llama.cpp tokenizes llama3 vocabularies with ignore_merges (a word found whole in the vocabulary is one token); rare words may tokenize differently than in transformers');
  }
  if (tok.normalizer) warnings.push(`tokenizer.json normalizer ${JSON.stringify(tok.normalizer.type)} is ignored (llama.cpp applies none for gpt2 BPE)`);

  const tcFile = path.join(dir, 'tokenizer_config.json');
  const tc = fs.existsSync(tcFile) ? readJson(tcFile, 'tokenizer_config.json') : undefined;

  const vocab: Record<string, number> = model.vocab ?? {};
  const byId = new Map<number, string>();
  for (const [t, id] of Object.entries(vocab)) byId.set(id, t);
  const added = new Map<number, any>();
  for (const a of (tok.added_tokens ?? []) as any[]) {
    if (!Number.isInteger(a?.id) || typeof a?.content !== 'string') throw new ConvertError('tokenizer.json: malformed added_tokens entry');
    added.set(a.id, a);
    byId.set(a.id, a.content);
  }
  const maxId = Math.max(-1, ...byId.keys());
  const padded = Math.ceil(vocabSize / 8) * 8;
  if (maxId >= padded) throw new ConvertError(`tokenizer.json has token id ${maxId}, beyond the model's vocabulary (${vocabSize}, padded ${padded})`);

  const tokens: string[] = [];
  const tokenTypes: number[] = [];
  for (let i = 0; i < padded; i++) {
    const t = byId.get(i);
    if (t === undefined) {
      tokens.push(`[PAD${i}]`);
      tokenTypes.push(TOKEN_TYPE.unused);
    } else if (added.has(i)) {
      const a = added.get(i);
      if (a.special || looksSpecial(t)) {
        tokens.push(t);
        tokenTypes.push(TOKEN_TYPE.control);
      } else {
        tokens.push(t.replace(/\u2581/g, ' '));
        tokenTypes.push(TOKEN_TYPE.userDefined);
      }
    } else {
      tokens.push(t);
      tokenTypes.push(TOKEN_TYPE.normal);
    }
  }
  const merges = mergeStrings(model.merges);
  if (!merges.length) throw new ConvertError('tokenizer.json: no merges (a gpt2 BPE needs them)');

  // Special ids: tokenizer_config.json's <typ>_token (matched against added tokens), else config.json's <typ>_token_id.
  const ids: Record<string, number> = {};
  const idOfText = (s: string): number | undefined => {
    for (const a of added.values()) if (a.content === s) return a.id;
    return undefined;
  };
  const keys: Array<[string, string]> = [['bos', 'bos_token_id'], ['eos', 'eos_token_id'], ['unk', 'unknown_token_id'], ['sep', 'seperator_token_id'], ['pad', 'padding_token_id']];
  for (const [typ, key] of keys) {
    const entry = tc?.[`${typ}_token`];
    const text = typeof entry === 'string' ? entry : typeof entry?.content === 'string' ? entry.content : undefined;
    let id = text !== undefined ? idOfText(text) : undefined;
    if (id === undefined) {
      const c = config[`${typ}_token_id`];
      if (Number.isInteger(c)) id = c;
      else if (Array.isArray(c) && Number.isInteger(c[0])) id = c[0];
    }
    if (id !== undefined && id >= 0 && id < padded) ids[key] = id;
  }
  for (const [key, texts] of Object.entries(FIM_TEXTS)) {
    for (const t of texts) {
      const i = tokens.indexOf(t);
      if (i >= 0 && tokenTypes[i] !== TOKEN_TYPE.unused) {
        ids[key] = i;
        break;
      }
    }
  }
  let addEos: boolean | undefined;
  if (typeof tc?.add_eos_token === 'boolean') addEos = tc.add_eos_token;

  let chatTemplate: string | undefined;
  const jinja = path.join(dir, 'chat_template.jinja');
  if (typeof tc?.chat_template === 'string') chatTemplate = tc.chat_template;
  else if (fs.existsSync(jinja)) chatTemplate = fs.readFileSync(jinja, 'utf8');
  else if (Array.isArray(tc?.chat_template)) {
    const def = tc.chat_template.find((t: any) => t?.name === 'default');
    if (typeof def?.template === 'string') chatTemplate = def.template;
  }
  // NemotronHModel.set_vocab: "The tokenizer _does_ add a BOS token … so we need to explicitly override it here."
  return { model: 'gpt2', pre, tokens, tokenTypes, merges, ids, addBos: true, addEos, chatTemplate, warnings };
}
