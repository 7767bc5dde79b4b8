#!/usr/bin/env bash
# `gpuqueue bench --engine cuda`, then `--engine webgpu`, on the GPU machine: each run's JSON and its
# printed table (stdout + stderr) land in $OUT. Run from anywhere in the tree:
#   OUT=/some/dir bash scripts/gpu-bench.sh [--quick] [more options for bench/dist/main.js]
#   GPU_BENCH_ENGINES="cuda" OUT=... bash scripts/gpu-bench.sh      # one engine only
# There is no npm on that machine: Node.js and node_modules come from .gpu (../shared/gpu/README.md:
# stage with `bash ../shared/gpu/stage.sh`, build here, send .gpu, dist and bench/dist along). Exit
# status: 0 when every run passed its checks, else the first failing run's (1: a case failed or gave a
# wrong result, 2: the run could not start, with the reason printed).
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
: "${OUT:?set OUT to the folder for the JSON records and the printed tables}"
mkdir -p "$OUT"

if ! command -v node >/dev/null 2>&1 || [ ! -e node_modules ]; then
  if [ -f .gpu/env.sh ]; then
    # shellcheck disable=SC1091
    source .gpu/env.sh
  elif ! command -v node >/dev/null 2>&1; then
    echo "gpu-bench: no node here and no .gpu/env.sh: stage with 'bash ../shared/gpu/stage.sh' and send .gpu along" >&2
    exit 2
  fi
fi

# bench/node_modules/gpuqueue is a symlink to the repository (npm's file:.. install); copies may drop it.
if [ ! -e bench/node_modules/gpuqueue/package.json ]; then
  mkdir -p bench/node_modules
  rm -rf bench/node_modules/gpuqueue
  ln -s ../.. bench/node_modules/gpuqueue
  echo "gpu-bench: recreated bench/node_modules/gpuqueue -> ../.." >&2
fi
for dep in cli-table3 hdr-histogram-js piscina; do
  if [ ! -e "bench/node_modules/$dep/package.json" ]; then
    echo "gpu-bench: bench/node_modules/$dep is missing: run 'npm install --prefix bench' on a machine with npm and send bench/node_modules along" >&2
    exit 2
  fi
done

# Stale or missing builds: compile here when TypeScript came along (.gpu staged with --dev).
tsc=node_modules/typescript/bin/tsc
if [ -f "$tsc" ]; then
  [ -f dist/src/index.js ] || node "$tsc" -p tsconfig.json || exit 2
  [ -f bench/dist/main.js ] || node "$tsc" -p bench/tsconfig.json || exit 2
fi
missing=()
[ -f dist/src/index.js ] || missing+=("dist/src (npm run build)")
[ -f bench/dist/main.js ] || missing+=("bench/dist (cd bench && npx tsc -p tsconfig.json)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "gpu-bench: not built: ${missing[*]}; build on the dev machine and send dist and bench/dist along" >&2
  exit 2
fi
# The kernels: nvcc is on the GPU machine, so build them here when they did not come along.
[ -d /usr/local/cuda/bin ] && export PATH="/usr/local/cuda/bin:$PATH"
if [ ! -f dist/kernels/checksum.ptx ] || [ ! -f dist/kernels/baseline_checksum.ptx ]; then
  echo "gpu-bench: building the kernels (dist/kernels) with $(command -v nvcc || echo 'no nvcc')" >&2
  node scripts/build-kernels.mjs || exit 2
fi

node --version
nvidia-smi --query-gpu=name,pcie.link.gen.current,pcie.link.width.current,driver_version --format=csv,noheader 2>/dev/null || true

suffix=""
for a in "$@"; do [ "$a" = --quick ] && suffix=-quick; done
status=0
for engine in ${GPU_BENCH_ENGINES:-cuda webgpu}; do
  echo "gpu-bench: node bench/dist/main.js --engine $engine --out $OUT $*" >&2
  node bench/dist/main.js --engine "$engine" --out "$OUT" "$@" 2>&1 | tee "$OUT/bench-$engine$suffix.txt"
  rc=${PIPESTATUS[0]}
  echo "gpu-bench: --engine $engine exited $rc" >&2
  [ "$status" -ne 0 ] || status=$rc
done
exit "$status"
