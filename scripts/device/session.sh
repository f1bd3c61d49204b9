#!/usr/bin/env bash
# One call on the lent GPU machine (no Node there), doing together what needs the GPU:
#   - the CUDA backend: build (nvcc, sm_90), conformance tests, and figures;
#   - optionally, beside it, the training run of the built-in model (tools/train/device-train.sh).
# Results are packed into $OUT within the device tool's limits (8 files, 15 MiB each):
#   cuda.tar.gz (logs + JSON), train.tar.gz (logs, eval, reference logits), model.tar.gz.part-NN.
#
#   OUT=... bash scripts/device/session.sh quick|full [TRAIN_SECONDS|0]
# quick: build + tests + matmul op bench + a small-model bench (what a first run must tell us);
# full:  native/scripts/device-check.sh (tests + Nano-9B-shaped BF16/Q8_0 benches).
# TRAIN_SECONDS > 0 runs the training beside it (needs the carried .train-data folder).
set -u
MODE="${1:-quick}"
TRAIN_SECONDS="${2:-0}"
: "${OUT:?set OUT}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
C=/tmp/cuda-out T=/tmp/train-out B=/tmp/hybrid-device-build
rm -rf "$C" "$T"; mkdir -p "$C" "$T" "$OUT"
t0=$(date +%s)
TPID=""
if [ "$TRAIN_SECONDS" != "0" ]; then
  ( OUT="$T" bash tools/train/device-train.sh "$TRAIN_SECONDS" > "$T/console.log" 2>&1 ) &
  TPID=$!
  echo "training started (pid $TPID, budget ${TRAIN_SECONDS}s)"
fi
if [ "$MODE" = "full" ]; then
  # bounded, so that the packing below always runs inside the device call's own limit
  OUT="$C" BUILD="$B" timeout --kill-after=5 "${CUDA_SECONDS:-480}" bash native/scripts/device-check.sh > "$C/console.log" 2>&1
else
  {
    nvidia-smi
    echo "== configure + build"; s=$(date +%s)
    cmake -S native -B "$B" -DCMAKE_BUILD_TYPE=Release -DHYBRID_CUDA=ON -DHYBRID_CUDA_ARCHS=90 > "$C/configure.log" 2>&1 &&
      cmake --build "$B" -j16 > "$C/build.log" 2>&1; echo "build rc=$? $(( $(date +%s) - s ))s"; tail -5 "$C/build.log"
    for t in test_cuda_matmul test_cuda_engine; do
      echo "== $t"; s=$(date +%s)
      timeout 240 "$B/$t" > "$C/$t.log" 2>&1; echo "$t rc=$? $(( $(date +%s) - s ))s"
      grep -iE "FAIL|error|exception" "$C/$t.log" | head -40; tail -2 "$C/$t.log"
    done
    echo "== ctest"; timeout 200 ctest --test-dir "$B" -j8 --timeout 180 > "$C/ctest.log" 2>&1; echo "ctest rc=$?"; tail -15 "$C/ctest.log"
    echo "== cuda-opbench"; s=$(date +%s)
    timeout 150 "$B/hybrid" cuda-opbench --json > "$C/opbench.json" 2> "$C/opbench.err"; echo "opbench rc=$? $(( $(date +%s) - s ))s"
    head -c 3000 "$C/opbench.json"; echo; tail -5 "$C/opbench.err"
    echo "== small fixture bench"
    timeout 60 "$B/hybrid" make-fixture --preset small --type bf16 --out /tmp/small-bf16.gguf > "$C/fixture.log" 2>&1; echo "fixture rc=$?"
    for d in cuda cpu; do
      timeout 90 "$B/hybrid" bench /tmp/small-bf16.gguf --device $d --threads 16 --json --prompt-tokens 512 --gen-tokens 64 --edit-doc-tokens 2048 > "$C/bench-small-$d.json" 2> "$C/bench-small-$d.err"
      echo "bench $d rc=$?"; cat "$C/bench-small-$d.json"; echo; tail -3 "$C/bench-small-$d.err"
    done
    timeout 60 "$B/hybrid" generate /tmp/small-bf16.gguf --device cuda --prompt "def f(x):" -n 32 --temp 0 --json > "$C/gen-cuda.json" 2>&1
    timeout 60 "$B/hybrid" generate /tmp/small-bf16.gguf --device cpu --threads 16 --prompt "def f(x):" -n 32 --temp 0 --json > "$C/gen-cpu.json" 2>&1
    python3 -c "import json;a=json.load(open('$C/gen-cuda.json'));b=json.load(open('$C/gen-cpu.json'));print('greedy small bf16 cuda==cpu:', a.get('tokens')==b.get('tokens'))" 2>&1
  } > "$C/console.log" 2>&1
fi
echo "cuda part done in $(( $(date +%s) - t0 ))s"
cat "$C/console.log" | tail -c 9000
if [ -n "$TPID" ]; then
  wait "$TPID"; echo "training finished: $(( $(date +%s) - t0 ))s"; tail -c 2500 "$T/console.log"
  mv "$T"/model.tar.gz.part-* "$OUT/" 2>/dev/null
  tar -C /tmp -czf "$OUT/train.tar.gz" train-out
fi
tar -C /tmp -czf "$OUT/cuda.tar.gz" cuda-out
ls -la "$OUT"; echo "session total $(( $(date +%s) - t0 ))s"
