#!/usr/bin/env bash
# The GPU check of the CUDA backend, in one short run (issue 7): build with nvcc for sm_90, nvidia-smi,
# test_cuda_engine, test_cuda_matmul, test_cuda_session, the other native tests (ctest without the CUDA ones), a small fixture's
# GPU bench (with the per-op profile), a greedy `generate` GPU vs CPU comparison on it, and random-weight
# fixtures with Nemotron-Nano-9B-v2's real dimensions (BF16 and Q8_0) benched with `hybrid bench --device cuda
# --json` (BF16 with HYBRID_CUDA_PROFILE=1: a per-op table of one prefill and two decode steps in
# bench-bf16.log). Every log and JSON goes under $OUT (default ./device-out), with summary.json of all figures
# and each step's exit code and seconds. A failed step is recorded and the run goes on. Needs bash, cmake,
# nvcc, a C++ compiler, python3 (no Node).
#
#   OUT=/path/to/out bash native/scripts/device-check.sh
#
# Knobs (env): BUILD (build dir, default /tmp/hybrid-device-build), JOBS (16), FIXTURE_DIR (/dev/shm if it
# has 25 GB free, else /tmp),
# PROMPT (512), GEN (128), EDIT_DOC (8192), KEEP_FIXTURES (0), CTEST (1: the non-CUDA native tests too),
# EXTRA (0; 1 adds cuda-opbench, the small fixture's CPU bench, and comparison benches with the previous
# kernels: HYBRID_CUDA_SCAN=seq HYBRID_CUDA_CONV=seq on the small fixture and nano9b bf16,
# HYBRID_MM_GEMV=f32 on nano9b q8_0).
# Budget: about 90 s on the 16-core H200 machine with EXTRA=0 (each step's seconds are in steps.tsv and
# summary.json; the previous full run took 93 s with the extras).
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${OUT:-./device-out}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
BUILD="${BUILD:-/tmp/hybrid-device-build}"
JOBS="${JOBS:-16}"
# Fixtures go to RAM (/dev/shm) when it has room for the 18 GB BF16 one: no disk write to wait for.
if [ -z "${FIXTURE_DIR:-}" ]; then
  FIXTURE_DIR=/tmp
  shm_free_kb=$(df -Pk /dev/shm 2>/dev/null | awk 'NR==2 {print $4}')
  if [ -n "$shm_free_kb" ] && [ "$shm_free_kb" -gt 25000000 ]; then FIXTURE_DIR=/dev/shm; fi
fi
PROMPT="${PROMPT:-512}"
GEN="${GEN:-128}"
EDIT_DOC="${EDIT_DOC:-8192}"
STEPS="$OUT/steps.tsv"
: > "$STEPS"
T_START=$(date +%s.%N)

# step NAME TIMEOUT_S CMD...: stdout+stderr to $OUT/NAME.log, one line "name rc seconds" in steps.tsv.
step() {
  local name="$1" limit="$2"
  shift 2
  local t0 t1 rc
  t0=$(date +%s.%N)
  echo "== $name (timeout ${limit}s): $*"
  timeout --kill-after=10 "$limit" "$@" > "$OUT/$name.log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  local secs
  secs=$(python3 -c "print(round($t1 - $t0, 2))")
  printf '%s\t%s\t%s\n' "$name" "$rc" "$secs" >> "$STEPS"
  echo "   rc=$rc ${secs}s (log: $OUT/$name.log)"
  tail -n 3 "$OUT/$name.log" | sed 's/^/   | /'
  return 0
}

cd "$ROOT"
step nvidia-smi 20 nvidia-smi
step machine 20 bash -c "nproc; free -g; df -h '$FIXTURE_DIR' '$(dirname "$BUILD")'"
step configure 60 cmake -S native -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DHYBRID_CUDA=ON -DHYBRID_CUDA_ARCHS=90
step build 240 cmake --build "$BUILD" -j"$JOBS" -- -k  # keep going: one broken target must not hide the others
HYBRID="$BUILD/hybrid"
step version 20 "$HYBRID" --version
step test_cuda_engine 120 "$BUILD/test_cuda_engine"
if [ -x "$BUILD/test_cuda_matmul" ]; then step test_cuda_matmul 120 "$BUILD/test_cuda_matmul"; fi
if [ -x "$BUILD/test_cuda_session" ]; then step test_cuda_session 120 "$BUILD/test_cuda_session"; fi
# the other native tests (the CUDA ones ran above)
if [ "${CTEST:-1}" = "1" ]; then
  step ctest 150 ctest --test-dir "$BUILD" --output-on-failure -j8 --timeout 120 -E 'test_cuda_(engine|matmul|session)'
fi
EXTRA="${EXTRA:-0}"
if [ "$EXTRA" = "1" ]; then step cuda-opbench 120 bash -c "'$HYBRID' cuda-opbench --json > '$OUT/opbench.json'"; fi

# small fixture (189 MB BF16): per-op profile on the GPU, GPU vs CPU bench, greedy generate GPU vs CPU
SMALL="$FIXTURE_DIR/hybrid-small-bf16.gguf"
step fixture-small 60 "$HYBRID" make-fixture --preset small --type bf16 --out "$SMALL"
step bench-small-cuda 90 bash -c "HYBRID_CUDA_PROFILE=1 '$HYBRID' bench '$SMALL' --device cuda --json --prompt-tokens 512 \
  --gen-tokens 64 --edit-doc-tokens 2048 > '$OUT/bench-small-cuda.json'"
grep -A40 '^HYBRID_CUDA_PROFILE' "$OUT/bench-small-cuda.log" | grep -v '^{' | head -40
if [ "$EXTRA" = "1" ]; then  # the previous Mamba-2 kernels (sequential scan and conv) and the CPU, for comparison
  step bench-small-cuda-seq 90 bash -c "HYBRID_CUDA_SCAN=seq HYBRID_CUDA_CONV=seq HYBRID_CUDA_PROFILE=1 '$HYBRID' bench \
    '$SMALL' --device cuda --json --prompt-tokens 512 --gen-tokens 64 --edit-doc-tokens 2048 > '$OUT/bench-small-cuda-seq.json'"
  step bench-small-cpu 90 bash -c "'$HYBRID' bench '$SMALL' --device cpu --threads $(nproc) --json --prompt-tokens 512 \
    --gen-tokens 64 > '$OUT/bench-small-cpu.json'"
fi
GEN_TOKENS="1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32"
step generate-small-cuda 60 bash -c "'$HYBRID' generate '$SMALL' --device cuda --tokens $GEN_TOKENS -n 32 --temp 0 --json \
  > '$OUT/gen-small-cuda.json'"
step generate-small-cpu 60 bash -c "'$HYBRID' generate '$SMALL' --device cpu --threads $(nproc) --tokens $GEN_TOKENS -n 32 \
  --temp 0 --json > '$OUT/gen-small-cpu.json'"
python3 - "$OUT" > "$OUT/generate-compare.log" 2>&1 <<'PY'
import json, os, sys
out = sys.argv[1]
try:
    a = json.load(open(os.path.join(out, "gen-small-cuda.json")))
    b = json.load(open(os.path.join(out, "gen-small-cpu.json")))
    ta, tb = a.get("tokens"), b.get("tokens")
    first = next((i for i, (x, y) in enumerate(zip(ta, tb)) if x != y), None)
    print(json.dumps({"identical": ta == tb, "first_difference": first, "cuda": ta, "cpu": tb}))
except Exception as e:
    print(json.dumps({"identical": None, "error": str(e)}))
PY
cat "$OUT/generate-compare.log"
rm -f "$SMALL"

for type in bf16 q8_0; do
  f="$FIXTURE_DIR/hybrid-nano9b-$type.gguf"
  step "fixture-$type" 120 "$HYBRID" make-fixture --preset nano9b --type "$type" --out "$f"
  ls -l "$f" >> "$OUT/fixture-$type.log" 2>&1
  PROF=0
  if [ "$type" = "bf16" ]; then PROF=1; fi
  step "bench-$type" 180 bash -c "HYBRID_CUDA_PROFILE=$PROF '$HYBRID' bench '$f' --device cuda --json --prompt-tokens $PROMPT \
    --gen-tokens $GEN --edit-doc-tokens $EDIT_DOC > '$OUT/bench-$type.json'"
  cat "$OUT/bench-$type.json" >> "$OUT/bench-$type.log" 2>/dev/null
  if [ "$PROF" = "1" ]; then grep -A40 '^HYBRID_CUDA_PROFILE' "$OUT/bench-$type.log" | grep -v '^{' | head -40; fi
  if [ "$type" = "bf16" ]; then  # the same edits through the worker's path: Session over CudaSequence
    step "bench-edit-$type" 120 bash -c "'$HYBRID' edit-bench '$f' --device cuda --doc-tokens $EDIT_DOC --edit-at 0.95,0.5 \
      --edits 5 --json > '$OUT/bench-edit-$type.json'"
    # keystroke -> completion through the worker's generation loop (FIM suffix read in an in-place fork)
    step "bench-complete-$type" 150 bash -c "'$HYBRID' complete-bench '$f' --device cuda --doc-tokens $EDIT_DOC \
      --suffix-tokens 512 --keystrokes 20 --max-tokens 16 --baseline-every 10 --json > '$OUT/bench-complete-$type.json'"
  fi
  if [ "$EXTRA" = "1" ]; then  # the previous kernels on the same file: bf16 scan + conv, q8_0 decode GEMV
    if [ "$type" = "bf16" ]; then OLD="HYBRID_CUDA_SCAN=seq HYBRID_CUDA_CONV=seq HYBRID_CUDA_PROFILE=1"; else OLD="HYBRID_MM_GEMV=f32"; fi
    step "bench-$type-old" 120 bash -c "$OLD '$HYBRID' bench '$f' --device cuda \
      --json --prompt-tokens $PROMPT --gen-tokens 32 --edit-doc-tokens 2048 > '$OUT/bench-$type-old.json'"
  fi
  if [ "${KEEP_FIXTURES:-0}" != "1" ]; then rm -f "$f"; fi
done

T_END=$(date +%s.%N)
python3 - "$OUT" "$T_START" "$T_END" <<'PY'
import json, os, sys
out, t0, t1 = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
steps = []
with open(os.path.join(out, "steps.tsv")) as f:
    for line in f:
        name, rc, secs = line.rstrip("\n").split("\t")
        steps.append({"step": name, "rc": int(rc), "seconds": float(secs)})
summary = {"total_seconds": round(t1 - t0, 2), "steps": steps, "benches": {}}
for name in sorted(os.listdir(out)):
    if name.startswith("bench-") and name.endswith(".json"):
        try:
            with open(os.path.join(out, name)) as f:
                summary["benches"][name[len("bench-"):-len(".json")]] = json.loads(f.read())
        except Exception as e:
            summary["benches"][name[len("bench-"):-len(".json")]] = {"error": str(e)}
def last_line(name):
    try:
        with open(os.path.join(out, name)) as f:
            lines = [l.strip() for l in f if l.strip()]
        return lines[-1] if lines else None
    except OSError:
        return None
summary["test_cuda_engine"] = last_line("test_cuda_engine.log")
summary["test_cuda_matmul"] = last_line("test_cuda_matmul.log")
summary["test_cuda_session"] = last_line("test_cuda_session.log")
summary["generate_small_cuda_vs_cpu"] = last_line("generate-compare.log")
summary["opbench_summary"] = None  # cuda-opbench runs with EXTRA=1 only
if os.path.exists(os.path.join(out, "opbench.json")):
    try:
        summary["opbench_summary"] = json.load(open(os.path.join(out, "opbench.json"))).get("summary")
    except Exception as e:
        summary["opbench_summary"] = {"error": str(e)}
summary["ctest"] = next((l for l in open(os.path.join(out, "ctest.log")) if "tests passed" in l), None) if os.path.exists(os.path.join(out, "ctest.log")) else None
summary["failed_steps"] = [s["step"] for s in steps if s["rc"] != 0]
with open(os.path.join(out, "summary.json"), "w") as f:
    json.dump(summary, f, indent=1)
# compact on the console (the session's output is truncated); the full summary is in summary.json
summary.pop("opbench_summary", None)
summary["steps"] = " ".join(f'{s["step"]}:{s["rc"]}:{s["seconds"]}s' for s in steps)
print(json.dumps(summary, separators=(",", ":")))
PY
