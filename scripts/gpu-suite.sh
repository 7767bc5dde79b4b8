#!/usr/bin/env bash
# The GPU suite, for the GPU machine (no npm there: run after `source .gpu/env.sh`, with dist/ built here
# and carried): the cuda test files, doctor, the multi-producer stress at full size, and the stress under
# compute-sanitizer. Logs and JSON go to $OUT (default ./gpu-out); prints one line per step.
#   bash scripts/gpu-suite.sh [tests] [stress] [sanitize:memcheck,racecheck,synccheck]
set -u
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
steps=${*:-tests stress sanitize:memcheck,racecheck,synccheck}
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
for step in $steps; do
  case $step in
    tests)
      node dist/src/cli/main.js doctor --json >"$OUT/doctor.json" 2>"$OUT/doctor.stderr"
      files=$(find dist/test -name '*cuda*.test.js' -o -name 'auto.test.js' -o -name 'doctor.test.js' | sort)
      start=$SECONDS
      node --test --test-concurrency=1 --test-timeout=150000 $files >"$OUT/test-gpu.log" 2>&1
      echo "tests: rc=$? in $((SECONDS - start)) s; $(grep -E '^# (tests|pass|fail|skipped)' "$OUT/test-gpu.log" | tr '\n' ' ')"
      ;;
    stress)
      node scripts/gpu-stress.mjs --producers 8 --messages 50000 --capacity 4096 >"$OUT/stress.json" 2>&1
      echo "stress: rc=$? $(tail -c 400 "$OUT/stress.json")"
      ;;
    sanitize:*)
      for tool in $(echo "${step#sanitize:}" | tr ',' ' '); do
        start=$SECONDS
        GPUQUEUE_CUDA_TIMEOUT_MS=300000 timeout 240 "$sanitizer" --tool "$tool" --error-exitcode 9 \
          node scripts/gpu-stress.mjs --producers 8 --messages 250 --capacity 512 >"$OUT/sanitizer-$tool.log" 2>&1
        echo "sanitizer $tool: rc=$? in $((SECONDS - start)) s; $(grep -E 'ERROR SUMMARY|violations' "$OUT/sanitizer-$tool.log" | tr '\n' ' ' | tail -c 300)"
      done
      ;;
    *) echo "unknown step $step" ;;
  esac
done
