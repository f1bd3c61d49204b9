#!/usr/bin/env python3
"""Single-line completion evaluation of the small code model on held-out packages (issue 14).

At random cursor positions in held-out files (packages never seen in training) the rest of the current
line is the target. The model gets a FIM prompt (PSM: <|fim_prefix|>prefix<|fim_suffix|>suffix<|fim_middle|>,
prefix = file up to the cursor, suffix = the file after the current line) and greedy-decodes until a token
containing a newline (or an end/FIM token), at most 48 tokens. Baselines on the same positions:
  indent+token: the previous line's indentation (when the cursor is still inside the indentation) + the
                most common non-blank token of the train split;
  bigram:       greedy decoding with a token bigram model counted on the train split.
Metrics: exact match (trailing whitespace ignored) and edit similarity 1 - Levenshtein / max(len).

Standalone: python3 tools/train/evaluate.py --model DIR [--data .train-data] [--out DIR] [--positions 300]
"""

import argparse
import gzip
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ.setdefault("HF_HUB_OFFLINE", "1")

EOT, FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE, FIM_PAD = range(5)
MAX_NEW = 48
PREFIX_CHARS, SUFFIX_CHARS = 3000, 1200        # character windows before tokenizing
PREFIX_TOKENS, SUFFIX_TOKENS = 768, 256        # token caps of the prompt parts


def log(msg):
    print(msg, flush=True)


def read_jsonl_gz(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def levenshtein(a, b):
    if a == b:
        return 0
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def edit_similarity(pred, target):
    pred, target = pred.rstrip(), target.rstrip()
    m = max(len(pred), len(target))
    return 1.0 if m == 0 else 1.0 - levenshtein(pred, target) / m


def sample_positions(rows, n, seed):
    """n cursor positions: a random held-out file, a random non-blank line, a random column before the
    line's last non-blank character (so the target is never empty)."""
    rng = random.Random(seed)
    out = []
    files = [r for r in rows if r["text"].strip()]
    tries = 0
    while len(out) < n and tries < n * 50:
        tries += 1
        r = files[rng.randrange(len(files))]
        text = r["text"]
        lines = text.split("\n")
        cands = [i for i, l in enumerate(lines) if l.strip()]
        if not cands:
            continue
        li = cands[rng.randrange(len(cands))]
        line = lines[li].rstrip()
        col = rng.randrange(len(line))
        start = sum(len(l) + 1 for l in lines[:li])
        cursor = start + col
        end_of_line = start + len(lines[li])
        prev_line = lines[li - 1] if li > 0 else ""
        out.append({
            "package": r["package"], "path": r["path"], "line": li + 1, "col": col,
            "prefix": text[:cursor], "target": line[col:],
            "suffix": text[end_of_line + 1:] if end_of_line < len(text) else "",
            "prev_indent": prev_line[: len(prev_line) - len(prev_line.lstrip())],
            "typed_in_line": lines[li][:col],
        })
    return out


def newline_token_ids(tok):
    v = tok.get_vocab_size()
    return sorted(i for i in range(v) if "\n" in tok.decode([i], skip_special_tokens=False))


def first_line(s):
    return s.split("\n", 1)[0]


class Bigram:
    def __init__(self, tok, texts, max_chars):
        t0 = time.time()
        v = tok.get_vocab_size()
        picked, total = [], 0
        for t in texts:
            if total >= max_chars:
                break
            picked.append(t)
            total += len(t)
        ids = []
        for e in tok.encode_batch(picked, add_special_tokens=False):
            ids.append(np.asarray(e.ids + [EOT], dtype=np.int64))
        arr = np.concatenate(ids)
        self.unigram = np.bincount(arr, minlength=v)
        pairs = arr[:-1] * v + arr[1:]
        uniq, counts = np.unique(pairs, return_counts=True)
        prev, nxt = uniq // v, uniq % v
        # for every prev token: the next token with the highest count (ties: the lowest id)
        order = np.lexsort((nxt, -counts, prev))
        prev_s, nxt_s = prev[order], nxt[order]
        first = np.ones(len(prev_s), dtype=bool)
        first[1:] = prev_s[1:] != prev_s[:-1]
        self.best = np.full(v, -1, dtype=np.int64)
        self.best[prev_s[first]] = nxt_s[first]
        self.tokens = len(arr)
        self.chars = total
        log(f"bigram: {self.tokens} tokens ({total / 1e6:.1f} M chars) counted in {time.time() - t0:.1f}s")

    def complete(self, tok, prefix_ids, stop_ids):
        last = prefix_ids[-1] if prefix_ids else EOT
        out = []
        for _ in range(MAX_NEW):
            nxt = int(self.best[last]) if last >= 0 else -1
            if nxt < 0 or nxt in stop_ids:
                if nxt >= 0:
                    out.append(nxt)
                break
            out.append(nxt)
            last = nxt
        return first_line(tok.decode(out, skip_special_tokens=True))


def most_common_token_text(tok, unigram):
    for i in np.argsort(-unigram):
        s = tok.decode([int(i)], skip_special_tokens=True)
        if s.strip() and i >= 5:
            return s
    return ";"


def baseline_indent(p, common):
    typed = p["typed_in_line"]
    if typed.strip() == "":
        ind = p["prev_indent"]
        rest = ind[len(typed):] if ind.startswith(typed) else ""
        return rest + common.lstrip()
    return common


def build_prompt(tok, p):
    pre = tok.encode(p["prefix"][-PREFIX_CHARS:], add_special_tokens=False).ids[-PREFIX_TOKENS:]
    suf = tok.encode(p["suffix"][:SUFFIX_CHARS], add_special_tokens=False).ids[:SUFFIX_TOKENS]
    return [FIM_PREFIX] + pre + [FIM_SUFFIX] + suf + [FIM_MIDDLE], pre


@torch.no_grad()
def model_complete(model, tok, ids, stop_ids, device):
    """Greedy decoding with transformers' generate (KV + Mamba-2 state cache), stops after a token containing
    a newline or an end/FIM token."""
    x = torch.tensor([ids], device=device)
    out = model.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=MAX_NEW, do_sample=False,
                         eos_token_id=stop_ids, pad_token_id=EOT)
    gen = out[0, len(ids):].tolist()
    return first_line(tok.decode(gen, skip_special_tokens=True)), len(gen)


def run(model, tok, data, out, positions=300, seed=1234, device=None, time_budget=0.0, train_texts=None,
        bigram_max_chars=60_000_000):
    t0 = time.time()
    device = device or next(model.parameters()).device
    held = read_jsonl_gz(os.path.join(data, "corpus-heldout.jsonl.gz"))
    if train_texts is None:
        train_texts = [r["text"] for r in read_jsonl_gz(os.path.join(data, "corpus-train.jsonl.gz"))]
    pos = sample_positions(held, positions, seed)
    nl = newline_token_ids(tok)
    stop_ids = sorted(set(nl) | {EOT, FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE, FIM_PAD})
    stop_set = set(stop_ids)
    bigram = Bigram(tok, train_texts, bigram_max_chars)
    common = most_common_token_text(tok, bigram.unigram)
    log(f"evaluation: {len(pos)} positions in {len(set(p['package'] for p in pos))} held-out packages; "
        f"most common token {json.dumps(common)}; {len(nl)} newline tokens")

    model.eval()
    res = {"model": [], "bigram": [], "indent+token": []}
    samples = []
    t_model = time.time()
    gen_tokens = 0
    for k, p in enumerate(pos):
        if time_budget and time.time() - t_model > time_budget:
            log(f"evaluation time budget ({time_budget}s) reached after {k} positions")
            break
        ids, pre_ids = build_prompt(tok, p)
        m, n = model_complete(model, tok, ids, stop_ids, device)
        gen_tokens += n
        b = bigram.complete(tok, pre_ids, stop_set)
        a = baseline_indent(p, common)
        for name, pred in (("model", m), ("bigram", b), ("indent+token", a)):
            res[name].append((pred.rstrip() == p["target"].rstrip(), edit_similarity(pred, p["target"])))
        if len(samples) < 40:
            samples.append({"package": p["package"], "path": p["path"], "line": p["line"], "col": p["col"],
                            "context": p["prefix"][-80:], "target": p["target"], "model": m, "bigram": b,
                            "indent+token": a})
    n_eval = len(res["model"])
    model_s = time.time() - t_model
    table = {}
    for name, r in res.items():
        if r:
            em = sum(x[0] for x in r) / len(r)
            es = sum(x[1] for x in r) / len(r)
            table[name] = {"exact_match": em, "edit_similarity": es, "n": len(r)}
    lines = ["| completer | exact match | edit similarity | positions |", "| --- | ---: | ---: | ---: |"]
    for name in ("model", "bigram", "indent+token"):
        if name in table:
            t = table[name]
            lines.append(f"| {name} | {100 * t['exact_match']:.1f}% | {t['edit_similarity']:.3f} | {t['n']} |")
    md = "\n".join(lines)
    log(md)
    log(f"model: {n_eval} completions, {gen_tokens} generated tokens in {model_s:.1f}s on {device}")
    result = {"positions_requested": positions, "positions_evaluated": n_eval, "seed": seed,
              "held_out_packages": sorted(set(p["package"] for p in pos[:n_eval])),
              "most_common_token": common, "bigram_train_tokens": bigram.tokens, "table": table, "markdown": md,
              "model_seconds": round(model_s, 1), "generated_tokens": gen_tokens, "device": str(device),
              "total_seconds": round(time.time() - t0, 1), "samples": samples}
    if out:
        with open(os.path.join(out, "eval.json"), "w") as f:
            json.dump(result, f, indent=1, ensure_ascii=False)
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="folder written by train.py (safetensors, config.json, tokenizer.json)")
    ap.add_argument("--data", default=".train-data")
    ap.add_argument("--out", default="", help="where eval.json goes (default: --model)")
    ap.add_argument("--positions", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--time-budget", type=float, default=0.0, help="stop the model after this many seconds (0: none)")
    ap.add_argument("--bigram-max-chars", type=int, default=60_000_000)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    from tokenizers import Tokenizer
    from transformers import NemotronHForCausalLM

    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    model = NemotronHForCausalLM.from_pretrained(args.model, dtype=torch.float32).to(device)
    run(model, tok, args.data, args.out or args.model, args.positions, args.seed, device, args.time_budget,
        bigram_max_chars=args.bigram_max_chars)


if __name__ == "__main__":
    main()
