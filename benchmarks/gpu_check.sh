#!/usr/bin/env bash
# Every GPU figure of issue 14 in one call, one table: run on a bare CUDA machine.
#
#   bash benchmarks/gpu_check.sh                       # analysis and training checks
#   GPU_CHECK_ONLY=analysis bash benchmarks/gpu_check.sh
#   GPU_CHECK_ALLOW_CPU=1 GPU_CHECK_SIZES=2000 bash benchmarks/gpu_check.sh   # a dry run on a CPU machine
#
# The machine has python3 with torch, numpy, scipy, scikit-learn, numba, matplotlib and pillow,
# and nothing can be installed from the network. Every other package latentatlas needs comes as
# wheels in a folder beside the checkout (GPU_CHECK_WHEELS, default ../wheels), installed with
# `pip install --no-index --target` into a scratch folder that goes first on PYTHONPATH.
#
# make_wheels (on a machine with the network, same Python version and platform as the GPU one):
#   pip download --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 \
#       -d ../wheels torchdr==0.5 openTSNE umap-learn pynndescent threadpoolctl safetensors plotly tqdm
#   pip wheel --no-deps -w ../wheels .          # latentatlas itself (or use the checkout: PYTHONPATH=src)
# then drop from ../wheels anything the GPU machine already has (torch, numpy, scipy, scikit-learn,
# numba, llvmlite, matplotlib, pillow and their dependencies), so nothing there is replaced.
#
# Environment: GPU_CHECK_SIZES (codes for the analysis figures, default 70000),
# GPU_CHECK_OUT (folder for the JSON of every figure, default a temporary one),
# LATENTATLAS_DATA (MNIST for the training half; the analysis half needs no data).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WHEELS="${GPU_CHECK_WHEELS:-$HERE/../wheels}"
OUT="${GPU_CHECK_OUT:-$(mktemp -d)}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT"

setup_python() {
    # Wheels beside the checkout go into a scratch target first on the path; the checkout's src next.
    local target="$OUT/site"
    if [ -d "$WHEELS" ] && ls "$WHEELS"/*.whl >/dev/null 2>&1; then
        "$PY" -m pip install --quiet --no-index --no-deps --target "$target" "$WHEELS"/*.whl
    fi
    export PYTHONPATH="$HERE/src:$target${PYTHONPATH:+:$PYTHONPATH}"
    export MPLBACKEND=Agg
    if [ "${GPU_CHECK_ALLOW_CPU:-0}" != 1 ]; then
        "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' || {
            echo "gpu_check: no CUDA GPU visible to torch (GPU_CHECK_ALLOW_CPU=1 runs the checks on the CPU)" >&2
            exit 2
        }
    fi
}

analysis_checks() {
    # Issue 14 item 3: the same codes through the CPU libraries and the torch backend (the GPU):
    # time per step and trustworthiness, kNN accuracy, cluster accuracy side by side (within 0.01).
    # Then the scaling table (item 5) on the torch backend. One JSON per part under $OUT.
    local sizes="${GPU_CHECK_SIZES:-70000}"
    "$PY" "$HERE/benchmarks/gpu_check_analysis.py" --sizes "$sizes" --out "$OUT/analysis.json"
    if [ "${GPU_CHECK_SCALING:-1}" = 1 ]; then
        local scale_sizes="${GPU_CHECK_SCALING_SIZES:-10000,70000,300000,1000000}"
        "$PY" "$HERE/benchmarks/bench_scaling.py" --backend torch --sizes "$scale_sizes" \
            --steps knn,tsne,umap,logreg,knn-probe,kmeans --timeout 120 --out "$OUT/scaling_torch.json" \
            | sed -n '/^step/,$p' | sed 's/^/scaling (torch) | /'
    fi
}

training_checks() {
    echo "training: see speed-train branch"
}

main() {
    setup_python
    echo "gpu_check: $("$PY" -c 'import torch; print(torch.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU only")'); figures in $OUT"
    case "${GPU_CHECK_ONLY:-all}" in
        analysis) analysis_checks ;;
        training) training_checks ;;
        *) analysis_checks; training_checks ;;
    esac
}

main "$@"
