#!/usr/bin/env bash
# The CUDA matrix multiply on a GPU machine: conformance (test_cuda_matmul) and figures (hybrid cuda-opbench).
#   native/scripts/cuda-matmul-check.sh [BUILD_DIR]
# Uses BUILD_DIR/test_cuda_matmul and BUILD_DIR/hybrid when they exist and start (e.g. built elsewhere for
# sm_90 and carried over), else configures and builds them there (sm_90 only, for speed). Logs and the JSON
# figures go to $OUT (default /tmp/cuda-matmul-check). Exit status: the test's.
set -uo pipefail
cd "$(dirname "$0")/../.."
B=${1:-native/build-mm90}
OUT=${OUT:-/tmp/cuda-matmul-check}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,clocks.mem,memory.total --format=csv 2>&1 | tee "$OUT/gpu.txt"
if ! [ -x "$B/test_cuda_matmul" ] || ! "$B/hybrid" --version >/dev/null 2>&1; then
  echo "building in $B"
  cmake -S native -B "$B" -DCMAKE_BUILD_TYPE=Release -DHYBRID_CUDA=ON -DHYBRID_CUDA_ARCHS=90 >"$OUT/cmake.log" 2>&1 &&
    cmake --build "$B" -j"$(nproc)" --target test_cuda_matmul hybrid >"$OUT/build.log" 2>&1 ||
    { tail -40 "$OUT/build.log"; exit 1; }
fi
start=$(date +%s)
timeout 300 "$B/test_cuda_matmul" >"$OUT/test.log" 2>&1
rc=$?
echo "test_cuda_matmul: exit $rc in $(( $(date +%s) - start )) s (full log: $OUT/test.log)"
grep -E "FAIL|exception|CHECK|skipped|device 0" "$OUT/test.log" | head -60
tail -1 "$OUT/test.log"
start=$(date +%s)
timeout 400 "$B/hybrid" cuda-opbench --json >"$OUT/bench.json" 2>"$OUT/bench.err"
echo "cuda-opbench: exit $? in $(( $(date +%s) - start )) s"
cat "$OUT/bench.err"
python3 - "$OUT/bench.json" <<'PY' || cat "$OUT/bench.json"
import json, sys
d = json.load(open(sys.argv[1]))
print(f"{d['device']}: copy {d['copy']['gb_per_s']:.0f} GB/s")
for g in d['gemv']:
    print(f"gemv {g['format']:5} K={g['K']:<6} M={g['M']:<6} n={g['n']} {g['kernel']:8} R={g['rows_per_warp'] or 'def'}: "
          f"{g['us']:8.1f} us {g['gb_per_s']:7.0f} GB/s {100*g['fraction_of_copy']:5.1f}%")
for g in d['gemm']:
    print(f"gemm {g['format']:5} {g['kernel']:8} K={g['K']} M={g['M']} n={g['n']:<5}: {g['ms']:7.3f} ms "
          f"{g['tflops']:6.1f} TFLOP/s {100*g['fraction_of_peak']:5.1f}% of {d['peak_bf16_tflops']:.0f}")
PY
exit $rc
