#!/usr/bin/env bash
# Train, evaluate and pack the small built-in code model on the GPU machine (issue 14).
#
#   OUT=/some/empty/dir bash tools/train/device-train.sh [TRAIN_SECONDS] [more train.py arguments...]
#
# TRAIN_SECONDS (default 180) is the optimisation loop's wall-clock budget. Around it: ~15 s of start-up
# and data preparation, ~15 s for held-out perplexity, saving and the reference logits (CPU, float32), and
# the completion evaluation capped by EVAL_SECONDS (default 45): about TRAIN_SECONDS + 80 s in all.
# Needs the carried ignored folder .train-data (corpus-*.jsonl.gz and tokenizer.json from
# tools/corpus/make-corpus.mjs + train.py --tokenizer-only), Python 3 with torch, transformers (>= 5.x with
# NemotronH), tokenizers, safetensors, numpy. No network.
# Writes into $OUT at most 6 files, each < 15 MiB: model.tar.gz.part-NN (the whole model folder: safetensors
# shards, config.json, tokenizer.json, reference-logits.json, tokenizer-check.json, eval.json,
# train-summary.json, train-log.txt), train-log.txt, eval.json, and when the count allows
# reference-logits.json and tokenizer-check.json. Reassemble: cat model.tar.gz.part-* | tar xz
set -uo pipefail
cd "$(dirname "$0")/../.."
BUDGET="${1:-180}"
shift || true
: "${OUT:?set OUT to the output folder}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
EVAL_SECONDS="${EVAL_SECONDS:-45}"
TMP="$(mktemp -d)"
MODEL="$TMP/hybrid-small"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=true PYTHONUNBUFFERED=1
LOG="$OUT/train-log.txt"
{
  echo "# device-train.sh $BUDGET $* ($(date -u +%FT%TZ))"
  git log -1 --format='# commit %H %s' 2>/dev/null || true
  nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader 2>/dev/null || true
} >"$LOG"
START=$(date +%s)
"$PY" -u tools/train/train.py --data .train-data --out "$MODEL" --time-budget "$BUDGET" --seed 1234 \
  --eval-time-budget "$EVAL_SECONDS" "$@" 2>&1 | tee -a "$LOG"
RC=${PIPESTATUS[0]}
echo "# train.py exit code $RC, wall $(( $(date +%s) - START )) s" | tee -a "$LOG"
if [ -d "$MODEL" ]; then
  cp "$LOG" "$MODEL/train-log.txt"
  tar -C "$TMP" -czf "$TMP/model.tar.gz" hybrid-small
  split -b 15M -d "$TMP/model.tar.gz" "$OUT/model.tar.gz.part-"
  n=$(ls "$OUT" | wc -l)
  for f in eval.json reference-logits.json tokenizer-check.json; do
    if [ -f "$MODEL/$f" ] && [ "$n" -lt 6 ]; then cp "$MODEL/$f" "$OUT/"; n=$((n + 1)); fi
  done
fi
ls -la "$OUT"
rm -rf "$TMP"
exit "$RC"
