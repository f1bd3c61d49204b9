#!/usr/bin/env python3
"""Train the small built-in hybrid (Mamba-2 + attention) code model of issue 14.

One script: byte-level BPE tokenizer (HF `tokenizers`, llama3 pre-tokenizer regex), a small
`NemotronHForCausalLM` (transformers' pure-torch Mamba-2 path), FIM (PSM) + plain training examples,
AdamW + cosine schedule over a wall-clock budget, held-out perplexity, reference logits for the
converter check, then the completion evaluation (tools/train/evaluate.py).

  python3 tools/train/train.py --data .train-data --out DIR --time-budget 240 --seed 1234

--time-budget is the wall-clock budget of the optimisation loop (seconds, measured from the first
step); the learning-rate schedule is a cosine over that budget (or over --max-steps when given).
"""

import argparse
import gzip
import json
import math
import os
import random
import sys
import time
import traceback

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the GPU machine has no network: never try to fetch hub kernels

import fast_scan  # noqa: E402

SPECIALS = ["<|endoftext|>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|fim_pad|>"]
EOT, FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE, FIM_PAD = range(5)
LLAMA3_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# Model sizes. Every matmul input dimension is a multiple of 256 (Q8_0 needs 32, Q4_K 256).
CONFIGS = {
    # ~24M parameters (8.4M of them embeddings + lm_head): 6 Mamba-2, 2 attention, 4 MLP layers.
    "small": dict(hidden_size=512, pattern="M-M*M-M-M*M-", mamba_num_heads=16, mamba_head_dim=64, n_groups=1,
                  ssm_state_size=64, num_attention_heads=8, num_key_value_heads=2, head_dim=64,
                  intermediate_size=1024),
    # for CPU tests of the pipeline only
    "tiny": dict(hidden_size=256, pattern="M-M*M-", mamba_num_heads=8, mamba_head_dim=64, n_groups=1,
                 ssm_state_size=32, num_attention_heads=4, num_key_value_heads=2, head_dim=64,
                 intermediate_size=512),
}

# Strings whose ids the runtime's tokenizer must reproduce (tokenizer-check.json).
TOKENIZER_CHECK = [
    "function add(a, b) {\n  return a + b;\n}\n",
    "const x = await fetch('https://example.com/api?q=1');",
    "    // TODO: handle the error\n\tif (err) throw err;\r\n",
    "I'm sure it's THE answer, isn't it? We'll see. They'RE here.",
    "let n = 1234567 + 3.14159e-10;",
    "import { readFile } from 'node:fs/promises';\n\n\nexport default class Foo extends Bar<T> {}",
    "Ünïcödé strings: 日本語のテキスト, emoji 🎉🚀, Ελληνικά",
    "<|fim_prefix|>def f(x):\n    <|fim_suffix|>\n    return y<|fim_middle|>y = x * 2<|endoftext|>",
    "   \n\n  \t  trailing   ",
    "",
]


def log(msg):
    print(msg, flush=True)


def read_jsonl_gz(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# ---------------------------------------------------------------- tokenizer

def build_tokenizer(texts, vocab_size, seed):
    from tokenizers import Tokenizer, Regex, models, pre_tokenizers, decoders, trainers

    tok = Tokenizer(models.BPE(ignore_merges=True))  # llama.cpp tokenizes llama3-style vocabularies with ignore_merges
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    for i, s in enumerate(SPECIALS):
        assert tok.token_to_id(s) == i, (s, tok.token_to_id(s))
    return tok


def save_tokenizer_files(tok, out):
    tok.save(os.path.join(out, "tokenizer.json"))
    cfg = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
        "unk_token": None, "add_bos_token": False, "add_eos_token": False,
        "model_max_length": 16384, "clean_up_tokenization_spaces": False,
        "additional_special_tokens": SPECIALS[1:],
    }
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump(cfg, f, indent=2)


def tokenizer_check(tok, out):
    res = []
    for s in TOKENIZER_CHECK:
        ids = tok.encode(s).ids
        dec = tok.decode(ids, skip_special_tokens=False)
        res.append({"text": s, "ids": ids, "roundtrip": dec == s})
        log(f"tokenizer check: {json.dumps(s)[:60]:60s} -> {len(ids)} ids {ids[:12]}{'...' if len(ids) > 12 else ''}"
            f"{'' if dec == s else '  (decode differs!)'}")
    with open(os.path.join(out, "tokenizer-check.json"), "w") as f:
        json.dump({"pre": "llama3", "regex": LLAMA3_REGEX, "cases": res}, f, indent=1, ensure_ascii=False)


# ---------------------------------------------------------------- data

def fim_split(text, rng):
    """Two cursor positions in `text`: half of the time at random characters, half of the time
    'rest of a line' shaped (cursor inside a line, middle ends at that line's end or a few lines later)."""
    n = len(text)
    if rng.random() < 0.5:
        i, j = sorted(rng.randrange(n + 1) for _ in range(2))
    else:
        i = rng.randrange(n)
        j = i
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            k = text.find("\n", j + 1 if j > i else j)
            j = n if k < 0 else k
            if j >= n:
                break
    return text[:i], text[i:j], text[j:]


def make_epoch(tok, texts, rng, seq_len, fim_rate):
    """One pass over `texts` in random order: each file becomes a plain example (the whole file) or a FIM
    example (PSM) over a random window of about 2.5 * seq_len characters. Returns one flat int32 stream."""
    order = list(range(len(texts)))
    rng.shuffle(order)
    plain_idx, fim_parts = [], []
    kinds = []
    for k in order:
        t = texts[k]
        if len(t) > 8 and rng.random() < fim_rate:
            w = int(seq_len * 2.5)
            if len(t) > w:
                s = rng.randrange(len(t) - w)
                s = t.rfind("\n", 0, s) + 1
                t = t[s:s + w]
            p, m, s_ = fim_split(t, rng)
            kinds.append(("fim", len(fim_parts)))
            fim_parts.extend([p, s_, m])
        else:
            kinds.append(("plain", len(plain_idx)))
            plain_idx.append(k)
    plain = tok.encode_batch([texts[k] for k in plain_idx], add_special_tokens=False) if plain_idx else []
    fims = tok.encode_batch(fim_parts, add_special_tokens=False) if fim_parts else []
    chunks = []
    for kind, i in kinds:
        if kind == "plain":
            chunks.append(np.asarray(plain[i].ids + [EOT], dtype=np.int32))
        else:
            p, s_, m = fims[i].ids, fims[i + 1].ids, fims[i + 2].ids
            chunks.append(np.asarray([FIM_PREFIX] + p + [FIM_SUFFIX] + s_ + [FIM_MIDDLE] + m + [EOT], dtype=np.int32))
    return np.concatenate(chunks)


class Batches:
    """Packs epoch streams into [batch, seq_len + 1] windows; a new epoch (new shuffle, new FIM draws)
    is made when the current one runs out."""

    def __init__(self, tok, texts, seed, seq_len, batch, fim_rate):
        self.tok, self.texts, self.seq_len, self.batch, self.fim_rate = tok, texts, seq_len, batch, fim_rate
        self.rng = random.Random(seed)
        self.epoch = 0
        self.pos = 0
        self.stream = None
        self.epoch_tokens = 0

    def _new_epoch(self):
        t0 = time.time()
        self.stream = make_epoch(self.tok, self.texts, self.rng, self.seq_len, self.fim_rate)
        self.epoch += 1
        self.pos = 0
        self.epoch_tokens = len(self.stream)
        log(f"epoch {self.epoch}: {len(self.stream)} tokens prepared in {time.time() - t0:.1f}s")

    def next(self):
        need = self.batch * (self.seq_len + 1)
        if self.stream is None or self.pos + need > len(self.stream):
            self._new_epoch()
        x = self.stream[self.pos:self.pos + need].reshape(self.batch, self.seq_len + 1)
        self.pos += need
        return torch.from_numpy(x.astype(np.int64))


# ---------------------------------------------------------------- model

def make_model(name, vocab_size, seq_len):
    from transformers import NemotronHConfig, NemotronHForCausalLM

    c = CONFIGS[name]
    cfg = NemotronHConfig(
        vocab_size=vocab_size,
        hidden_size=c["hidden_size"],
        hybrid_override_pattern=c["pattern"],
        num_attention_heads=c["num_attention_heads"],
        num_key_value_heads=c["num_key_value_heads"],
        head_dim=c["head_dim"],
        intermediate_size=c["intermediate_size"],
        mlp_hidden_act="relu2",
        ssm_state_size=c["ssm_state_size"],
        mamba_num_heads=c["mamba_num_heads"],
        mamba_head_dim=c["mamba_head_dim"],
        n_groups=c["n_groups"],
        conv_kernel=4,
        expand=c["mamba_num_heads"] * c["mamba_head_dim"] // c["hidden_size"],
        chunk_size=128,
        use_mamba_kernels=False,
        tie_word_embeddings=False,
        max_position_embeddings=max(4096, seq_len),
        bos_token_id=EOT, eos_token_id=EOT, pad_token_id=EOT,
        layer_norm_epsilon=1e-5,
        # transformers' chunked scan clamps softplus(dt) to >= time_step_min (llama.cpp does not clamp):
        # keep that floor tiny so the two agree.
        time_step_min=1e-4, time_step_max=0.1, time_step_floor=1e-4,
        use_cache=True,
    )
    torch_model = NemotronHForCausalLM(cfg)
    return torch_model


def param_count(model):
    total = sum(p.numel() for p in model.parameters())
    emb = model.get_input_embeddings().weight.numel() + model.lm_head.weight.numel()
    return total, emb


@torch.no_grad()
def heldout_perplexity(model, tok, texts, seq_len, device, max_windows=256, batch=8):
    ids = []
    nbytes = 0
    for e, t in zip(tok.encode_batch(texts, add_special_tokens=False), texts):
        ids.extend(e.ids + [EOT])
        nbytes += len(t.encode("utf-8")) + 1
    arr = np.asarray(ids, dtype=np.int64)
    n = min(len(arr) // (seq_len + 1), max_windows)
    if n == 0:
        return None
    used_bytes = nbytes * (n * (seq_len + 1)) / len(arr)
    x = torch.from_numpy(arr[: n * (seq_len + 1)].reshape(n, seq_len + 1))
    model.eval()
    tot, cnt = 0.0, 0
    for i in range(0, n, batch):
        xb = x[i:i + batch].to(device)
        with autocast(device):
            logits = model(input_ids=xb[:, :-1]).logits.float()
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), xb[:, 1:].reshape(-1), reduction="sum")
        tot += loss.item()
        cnt += xb[:, 1:].numel()
    nll = tot / cnt
    return {"tokens": cnt, "loss": nll, "perplexity": math.exp(nll), "bits_per_byte": tot / math.log(2) / used_bytes,
            "bytes_per_token": used_bytes / cnt}


def autocast(device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


# ---------------------------------------------------------------- reference logits

def reference_sequences(tok):
    a = "import { readFile } from 'node:fs/promises';\n\nexport async function loadJson(path) {\n  const text = await readFile(path, 'utf8');\n"
    b = "function fibonacci(n) {\n  if (n < 2) return n;\n  return "
    c_pre = "export function clamp(value: number, min: number, max: number): number {\n  "
    c_suf = "\n}\n\nexport function lerp(a: number, b: number, t: number): number {\n  return a + (b - a) * t;\n}\n"
    d = "class Stack {\n  constructor() {\n    this.items = [];\n  }\n\n  push(item) {\n    this.items.push(item);\n  }\n\n  pop() {\n"
    enc = lambda s: tok.encode(s, add_special_tokens=False).ids
    return [
        ("plain-import", enc(a)),
        ("plain-fibonacci", enc(b)),
        ("fim-clamp", [FIM_PREFIX] + enc(c_pre) + [FIM_SUFFIX] + enc(c_suf) + [FIM_MIDDLE]),
        ("plain-class", [EOT] + enc(d)),
    ]


@torch.no_grad()
def dump_reference_logits(model, tok, out, n_last=8, n_new=32):
    """float32 logits of the last n_last positions and the greedy continuation (no KV/SSM cache: every step
    re-reads the whole sequence, so it exercises exactly the prefill path) for 4 fixed sequences, computed in
    float32 (TF32 off on CUDA) from the weights as saved (bf16-rounded)."""
    dev = next(model.parameters()).device
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    m = model.to(dtype=torch.float32).eval()
    res = []
    for name, ids in reference_sequences(tok):
        x = torch.tensor([ids], device=dev)
        logits = m(input_ids=x).logits[0].float().cpu()
        last = logits[-n_last:]
        seq = list(ids)
        gen = []
        for _ in range(n_new):
            nxt = int(m(input_ids=torch.tensor([seq], device=dev)).logits[0, -1].argmax())
            gen.append(nxt)
            seq.append(nxt)
        res.append({
            "name": name, "input_ids": ids, "n_last": n_last,
            "positions": list(range(len(ids) - n_last, len(ids))),
            "logits": [[float(f"{v:.6g}") for v in row] for row in last.tolist()],
            "argmax": last.argmax(-1).tolist(),
            "greedy": gen, "greedy_text": tok.decode(gen, skip_special_tokens=False),
        })
        log(f"reference {name}: {len(ids)} tokens, greedy -> {json.dumps(tok.decode(gen, skip_special_tokens=False))[:100]}")
    with open(os.path.join(out, "reference-logits.json"), "w") as f:
        json.dump({"dtype": "float32 logits from bf16-rounded weights (as saved)", "device": str(dev),
                   "sequences": res}, f)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=".train-data")
    ap.add_argument("--out", required=True)
    ap.add_argument("--time-budget", type=float, default=240.0, help="seconds of optimisation (wall clock)")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: only the time budget)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--config", choices=sorted(CONFIGS), default="small")
    ap.add_argument("--vocab-size", type=int, default=8192)
    ap.add_argument("--tokenizer", default="", help="reuse this tokenizer.json instead of training one "
                    "(default: DATA/tokenizer.json when it exists)")
    ap.add_argument("--retrain-tokenizer", action="store_true")
    ap.add_argument("--tokenizer-only", action="store_true", help="train + save the tokenizer (to --out) and stop")
    ap.add_argument("--seq-len", type=int, default=1024)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-ratio", type=float, default=0.1)
    ap.add_argument("--warmup-steps", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument("--fim-rate", type=float, default=0.5)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--max-train-files", type=int, default=0, help="use only the first N train files (CPU tests)")
    ap.add_argument("--eval-positions", type=int, default=300)
    ap.add_argument("--eval-time-budget", type=float, default=60.0)
    ap.add_argument("--no-eval", action="store_true")
    ap.add_argument("--heldout-windows", type=int, default=256, help="held-out perplexity over at most this many sequences")
    ap.add_argument("--ref-new-tokens", type=int, default=32, help="greedy continuation length in reference-logits.json")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--stock-scan", action="store_true", help="train with transformers' own (memory-hungry) chunk scan")
    args = ap.parse_args()

    t_start = time.time()
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    log(f"torch {torch.__version__}, device {device}"
        f"{' (' + torch.cuda.get_device_name(0) + ')' if device.type == 'cuda' else ''}, threads {torch.get_num_threads()}")
    import transformers
    log(f"transformers {transformers.__version__}")

    train_rows = read_jsonl_gz(os.path.join(args.data, "corpus-train.jsonl.gz"))
    held_rows = read_jsonl_gz(os.path.join(args.data, "corpus-heldout.jsonl.gz"))
    train_texts = [r["text"] for r in train_rows]
    if args.max_train_files:
        train_texts = train_texts[: args.max_train_files]
    held_texts = [r["text"] for r in held_rows]
    log(f"corpus: {len(train_texts)} train files ({sum(map(len, train_texts)) / 1e6:.1f} M chars), "
        f"{len(held_texts)} held-out files ({sum(map(len, held_texts)) / 1e6:.2f} M chars)")

    # tokenizer
    from tokenizers import Tokenizer
    tok_path = args.tokenizer or os.path.join(args.data, "tokenizer.json")
    t0 = time.time()
    if os.path.exists(tok_path) and not args.retrain_tokenizer and not args.tokenizer_only:
        tok = Tokenizer.from_file(tok_path)
        log(f"tokenizer: loaded {tok_path} (vocab {tok.get_vocab_size()})")
    else:
        tok = build_tokenizer(train_texts, args.vocab_size, args.seed)
        log(f"tokenizer: trained BPE vocab {tok.get_vocab_size()} in {time.time() - t0:.1f}s")
    save_tokenizer_files(tok, args.out)
    tokenizer_check(tok, args.out)
    if args.tokenizer_only:
        return
    vocab = tok.get_vocab_size()
    vocab_padded = (vocab + 255) // 256 * 256  # embedding rows a multiple of 256

    # model
    torch.manual_seed(args.seed)
    model = make_model(args.config, vocab_padded, args.seq_len).to(device)
    total, emb = param_count(model)
    log(f"model: NemotronH '{args.config}' pattern {model.config.hybrid_override_pattern}, hidden {model.config.hidden_size}, "
        f"vocab {vocab_padded}: {total / 1e6:.2f}M parameters ({(total - emb) / 1e6:.2f}M without embeddings/lm_head)")

    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (decay if p.dim() >= 2 and "embeddings" not in n else no_decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8,
                            fused=device.type == "cuda")

    batches = Batches(tok, train_texts, args.seed, args.seq_len, args.batch_size, args.fim_rate)
    restore_scan = fast_scan.install() if not args.stock_scan else (lambda: None)

    def lr_at(step, frac):
        if step < args.warmup_steps:
            return args.lr * (step + 1) / args.warmup_steps
        frac = min(max(frac, 0.0), 1.0)
        return args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac)))

    log(f"training: batch {args.batch_size} x {args.seq_len} tokens, lr {args.lr} cosine to {args.lr * args.min_lr_ratio}, "
        f"warmup {args.warmup_steps}, time budget {args.time_budget}s"
        f"{', max steps ' + str(args.max_steps) if args.max_steps else ''}, setup took {time.time() - t_start:.1f}s")
    log("step  tokens  loss  tok/s  lr  elapsed_s")
    model.train()
    step, tokens = 0, 0
    curve = []
    loss_acc, n_acc = 0.0, 0
    t_train = time.time()
    t_log, tok_log = t_train, 0
    while True:
        elapsed = time.time() - t_train
        if elapsed >= args.time_budget or (args.max_steps and step >= args.max_steps):
            break
        frac = step / args.max_steps if args.max_steps else elapsed / args.time_budget
        lr = lr_at(step, frac)
        for g in opt.param_groups:
            g["lr"] = lr
        xb = batches.next().to(device, non_blocking=True)
        try:
            with autocast(device):
                logits = model(input_ids=xb[:, :-1]).logits
            loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), xb[:, 1:].reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
        except torch.OutOfMemoryError:
            if step > 0 or batches.batch <= 1:
                raise
            logits = loss = None
            opt.zero_grad(set_to_none=True)
            torch.cuda.empty_cache()
            batches.batch //= 2
            log(f"out of memory at the first step: batch size -> {batches.batch}")
            continue
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        opt.step()
        step += 1
        tokens += xb[:, 1:].numel()
        loss_acc += loss.item() if (step % args.log_every == 0 or step <= 3) else 0.0
        if step % args.log_every == 0 or step <= 3:
            now = time.time()
            tps = (tokens - tok_log) / max(now - t_log, 1e-9)
            t_log, tok_log = now, tokens
            l = loss.item()
            curve.append({"step": step, "tokens": tokens, "loss": round(l, 4), "tok_per_s": round(tps), "lr": lr,
                          "elapsed_s": round(now - t_train, 1), "grad_norm": round(float(gnorm), 3)})
            log(f"{step:5d} {tokens:10d} {l:7.4f} {tps:9.0f} {lr:.2e} {now - t_train:7.1f}  (gnorm {float(gnorm):.2f}, epoch {batches.epoch})")
    train_s = time.time() - t_train
    log(f"trained {step} steps, {tokens} tokens ({tokens / max(batches.epoch_tokens, 1):.2f} x the last epoch's size), "
        f"{train_s:.1f}s, {tokens / max(train_s, 1e-9):.0f} tok/s")

    # round the weights to bf16 (what is saved) and evaluate those
    model = model.to(torch.bfloat16).to(torch.float32)
    if device.type == "cuda":
        log(f"peak CUDA memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
    ppl = heldout_perplexity(model, tok, held_texts, args.seq_len, device, max_windows=args.heldout_windows)
    if ppl:
        log(f"held-out: {ppl['tokens']} tokens, loss {ppl['loss']:.4f}, perplexity {ppl['perplexity']:.3f}, "
            f"{ppl['bits_per_byte']:.3f} bits/byte ({ppl['bytes_per_token']:.2f} bytes/token)")

    model.to(torch.bfloat16).save_pretrained(args.out, max_shard_size="15MB")
    model = model.to(torch.float32)
    # llama.cpp's converter and older transformers read hybrid_override_pattern; write it next to layer_types.
    cfg_path = os.path.join(args.out, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    cfg["hybrid_override_pattern"] = model.config.hybrid_override_pattern
    cfg["num_hidden_layers"] = len(model.config.hybrid_override_pattern)
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2)
    summary = {
        "seed": args.seed, "config": args.config, "model_config": CONFIGS[args.config], "vocab_size": vocab_padded,
        "tokenizer_vocab": vocab, "parameters": total, "parameters_without_embeddings": total - emb,
        "seq_len": args.seq_len, "batch_size": batches.batch, "lr": args.lr, "steps": step, "tokens": tokens,
        "train_seconds": round(train_s, 1), "tok_per_s": round(tokens / max(train_s, 1e-9)),
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
        "train_files": len(train_texts), "heldout": ppl, "curve": curve,
    }
    with open(os.path.join(args.out, "train-summary.json"), "w") as f:
        json.dump(summary, f, indent=1)

    restore_scan()  # reference logits and evaluation use transformers' own code path
    # the model is saved: a failure below must not lose it (the device script packs whatever exists)
    ok = True
    try:
        dump_reference_logits(model, tok, args.out, n_new=args.ref_new_tokens)
    except Exception:
        traceback.print_exc()
        ok = False
    model.to(device)

    if not args.no_eval:
        try:
            import evaluate
            evaluate.run(model=model, tok=tok, data=args.data, out=args.out, positions=args.eval_positions,
                         seed=args.seed, device=device, time_budget=args.eval_time_budget, train_texts=train_texts)
        except Exception:
            traceback.print_exc()
            ok = False
    log(f"total wall time {time.time() - t_start:.1f}s")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
