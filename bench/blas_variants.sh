#!/usr/bin/env bash
# Compares the BLAS builds installed on this machine (reference, OpenBLAS pthread, OpenBLAS
# OpenMP) under LibTorch, side by side in one run, by pointing the loader at each build's
# libblas.so.3 (nothing system-wide changes). `avqa bench gemm` prints which library it really
# loaded. Usage: bench/blas_variants.sh [THREADS...]   (default: 1 2)
set -euo pipefail
cd "$(dirname "$0")/.."
avqa=build/release/tools/avqa
[ -x "$avqa" ] || { echo "build first: cmake --preset release && cmake --build --preset release" >&2; exit 1; }
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
threads=("$@")
[ ${#threads[@]} -gt 0 ] || threads=(1 2)
for variant in openblas-pthread openblas-openmp blas; do
  dir=/usr/lib/$multiarch/$variant
  [ -e "$dir/libblas.so.3" ] || { echo "== $variant: not installed, skipped"; continue; }
  for t in "${threads[@]}"; do
    echo "== $variant, $t thread(s)"
    LD_LIBRARY_PATH=$dir "$avqa" --threads "$t" bench gemm --repeats 15 | grep -v '^avqa \|^LibTorch\|^BLAS build'
  done
done
