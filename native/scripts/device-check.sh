#!/usr/bin/env bash
# The GPU check of the CUDA backend, in one run (issue 7): build with nvcc for sm_90, nvidia-smi, every native
# test (the CUDA ones included), random-weight fixtures with Nemotron-Nano-9B-v2's real dimensions (BF16 and
# Q8_0), `hybrid bench --device cuda --json` on each. Every log and JSON goes under $OUT (default
# ./device-out), with summary.json of all figures and each step's exit code and seconds. A failed step is
# recorded and the run goes on. Needs bash, cmake, nvcc, a C++ compiler, python3 (no Node).
#
#   OUT=/path/to/out bash native/scripts/device-check.sh
#
# Knobs (env): BUILD (build dir, default /tmp/hybrid-device-build), JOBS (16), FIXTURE_DIR (/tmp),
# PROMPT (512), GEN (128), EDIT_DOC (8192), KEEP_FIXTURES (0).
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${OUT:-./device-out}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
BUILD="${BUILD:-/tmp/hybrid-device-build}"
JOBS="${JOBS:-16}"
FIXTURE_DIR="${FIXTURE_DIR:-/tmp}"
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
step configure 60 cmake -S native -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DHYBRID_CUDA=ON -DHYBRID_CUDA_ARCHS=90
step build 240 cmake --build "$BUILD" -j"$JOBS" -- -k  # keep going: one broken target must not hide the others
HYBRID="$BUILD/hybrid"
step version 20 "$HYBRID" --version
step test_cuda_engine 120 "$BUILD/test_cuda_engine"
if [ -x "$BUILD/test_cuda_matmul" ]; then step test_cuda_matmul 120 "$BUILD/test_cuda_matmul"; fi
step ctest 240 ctest --test-dir "$BUILD" --output-on-failure -j8 --timeout 200

for type in bf16 q8_0; do
  f="$FIXTURE_DIR/hybrid-nano9b-$type.gguf"
  step "fixture-$type" 120 "$HYBRID" make-fixture --preset nano9b --type "$type" --out "$f"
  ls -l "$f" >> "$OUT/fixture-$type.log" 2>&1
  step "bench-$type" 240 bash -c "'$HYBRID' bench '$f' --device cuda --json --prompt-tokens $PROMPT --gen-tokens $GEN \
    --edit-doc-tokens $EDIT_DOC > '$OUT/bench-$type.json'"
  cat "$OUT/bench-$type.json" >> "$OUT/bench-$type.log" 2>/dev/null
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
summary["ctest"] = next((l for l in open(os.path.join(out, "ctest.log")) if "tests passed" in l), None) if os.path.exists(os.path.join(out, "ctest.log")) else None
summary["failed_steps"] = [s["step"] for s in steps if s["rc"] != 0]
with open(os.path.join(out, "summary.json"), "w") as f:
    json.dump(summary, f, indent=1)
print(json.dumps(summary, indent=1))
PY
