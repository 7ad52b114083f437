#!/usr/bin/env bash
# Every GPU figure of issue 14 in one call, within 8 minutes, on a bare CUDA machine.
#
#     bash benchmarks/gpu_check.sh
#
# The machine: python3 with torch, numpy, scipy, scikit-learn, matplotlib, numba and pillow,
# nothing downloadable. Every other package arrives as wheels in a folder beside the checkout
# ($GPU_CHECK_WHEELS, else ../wheels, else .whl or wheels in the checkout), made beforehand on a
# machine with PyPI by `python benchmarks/gpu_wheels.py` (openTSNE, umap-learn, plotly, TorchDR,
# Pythae, ... for Python 3.12); they are installed with `pip install --no-index --no-deps
# --target` into the work folder and put on PYTHONPATH with this checkout's src/. MNIST is read
# from $LATENTATLAS_DATA, else ../data beside the checkout.
#
# Prints one table: what | measured | target. Two halves, each a function that appends
# rows with `row WHAT MEASURED TARGET`:
#     training_checks   training speed and quality, Pythae, `latentatlas run` end to end, and
#                       issue 15's full CIFAR-10 run (`run --preset cifar10-vae`, judge included):
#                       the real archive when $LATENTATLAS_DATA holds it, else random images in
#                       CIFAR-10's format (wall time representative, quality not; the row says so)
#     analysis_checks   the analysis on the GPU (the speed-analysis branch)
#     sweep_check       issue 27: 8 tiny MNIST trials of `latentatlas sweep` with --gpus-per-trial 0.25
#                       (four share the card) against 1 (one at a time), trials per minute and the
#                       ratio (benchmarks/bench_sweep.py --packing); last, in what is left of the 8
#                       minutes (GPU_CHECK_ONLY=sweep alone); without CUDA the row says unmeasured
#     cores_check       only with GPU_CHECK_ONLY=cores, outside the 8 minutes (minutes more on a
#                       16-core machine): item 2, the CPU-only analysis of the 70,000 MNIST codes
#                       of `run`'s folder (or a fresh default-vae) with 2 jobs and with every core
#                       (benchmarks/bench_cores.py)
#
# Environment: PYTHON (python3), GPU_CHECK_WORK (a fresh temporary folder), GPU_CHECK_WHEELS,
# GPU_CHECK_ONLY=training|analysis|sweep|cores (one part), GPU_CHECK_ALLOW_CPU=1 (no GPU: tiny sizes on
# the CPU, to test this script; its figures are not the GPU's).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
WORK="${GPU_CHECK_WORK:-$(mktemp -d /tmp/gpu_check.XXXXXX)}"
ROWS="$WORK/rows.tsv"
BUDGET_S=470          # the whole script: 8 minutes, less the set-up
TINY=0

row() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$ROWS"; }   # what, measured, target
la() { "$PY" -m latentatlas "$@"; }
note() { echo "gpu_check: $*" >&2; }
# the last line of a log that says something (a traceback's message, not a trailing blank)
last_line() { grep -v '^[[:space:]]*$' "$1" | tail -n 1 | cut -c1-200; }

# seconds a step may take: its own cap, and never past its half's deadline (DEADLINE, in
# $SECONDS) nor the script's budget
DEADLINE=$BUDGET_S
cap() {
    local end=$(( DEADLINE < BUDGET_S ? DEADLINE : BUDGET_S )) left
    left=$(( end - SECONDS )); (( left < 5 )) && left=5
    (( $1 < left )) && echo "$1" || echo "$left"
}

setup() {
    mkdir -p "$WORK"
    : > "$ROWS"
    local site="$WORK/site" wheels="" w
    # the wheels: $GPU_CHECK_WHEELS, else ../wheels beside the checkout (gpu_wheels.py's default),
    # else .whl or wheels inside it (the device tool's habit)
    for w in "${GPU_CHECK_WHEELS:-}" "$(dirname "$ROOT")/wheels" "$ROOT/.whl" "$ROOT/wheels"; do
        if [[ -n "$w" ]] && compgen -G "$w/*.whl" > /dev/null; then wheels="$w"; break; fi
    done
    if [[ -n "$wheels" ]]; then
        # the folder holds the closure (benchmarks/gpu_wheels.py): each wheel alone, nothing
        # resolved against an index; the image's own packages stay the ones used
        "$PY" -m pip install --quiet --no-index --no-deps --no-compile --target "$site" "$wheels"/*.whl \
            > "$WORK/pip.log" 2>&1 \
        || note "the wheels in $wheels did not install (see $WORK/pip.log)"
    fi
    export PYTHONPATH="$ROOT/src:$site${PYTHONPATH:+:$PYTHONPATH}"
    if [[ -z "${LATENTATLAS_DATA:-}" && -d "$(dirname "$ROOT")/data" ]]; then
        export LATENTATLAS_DATA="$(dirname "$ROOT")/data"
    fi
    export LATENTATLAS_CACHE="$WORK/cache" LATENTATLAS_NO_BAR=1 MPLBACKEND=Agg
    check_packages "$wheels"
}

# every package a row needs, imported once: what is missing is said in one line with the fix
# (rows that need it then fail in their own line; the others still run)
check_packages() {
    local missing
    missing="$("$PY" - <<'PY'
import importlib.util
need = {"openTSNE": "openTSNE", "umap": "umap-learn", "pynndescent": "pynndescent", "plotly": "plotly",
        "safetensors": "safetensors", "starlette": "starlette", "uvicorn": "uvicorn", "torchdr": "torchdr",
        "pythae": "pythae"}
print(" ".join(dist for mod, dist in need.items() if importlib.util.find_spec(mod) is None))
PY
)"
    if [[ -n "$missing" ]]; then
        note "missing here: $missing${1:+ (wheels from $1)}; make the wheels on a machine with PyPI:" \
             "python benchmarks/gpu_wheels.py --dest ../wheels (Python 3.12 by default)"
        row "packages" "missing: $missing" "all present"
    fi
}

check_device() {
    if "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2> /dev/null; then
        "$PY" -c "import torch; print('gpu_check:', torch.cuda.get_device_name(0), '| torch', torch.__version__)"
        return
    fi
    if [[ "${GPU_CHECK_ALLOW_CPU:-0}" == 1 ]]; then
        TINY=1
        note "no CUDA GPU; GPU_CHECK_ALLOW_CPU=1: tiny sizes on the CPU (not the GPU's figures)"
        return
    fi
    note "no CUDA GPU visible to $PY; run this on a CUDA machine (GPU_CHECK_ALLOW_CPU=1 tries it on the CPU)"
    exit 2
}

# figures of a finished training run: "s/epoch (median, epochs 2..) | epoch 1 s | sum of epoch s |
# final test loss | final test MSE | median images/s"
run_figures() {
    "$PY" - "$1" <<'PY'
import json, statistics, sys
from pathlib import Path
rows = [json.loads(l) for l in (Path(sys.argv[1]) / "history.jsonl").read_text().splitlines()]
later = [r["seconds"] for r in rows[1:]] or [rows[0]["seconds"]]
print(f"{statistics.median(later):.2f} {rows[0]['seconds']:.2f} {sum(r['seconds'] for r in rows):.2f} "
      f"{rows[-1]['test_loss']:.2f} {rows[-1]['test_mse']:.5f} {statistics.median(r['images_per_s'] for r in rows):.0f}")
PY
}

# train_step NAME CAP ARGS...: trains into $WORK/NAME; sets FIG (run_figures) and WALL, or
# FIG="" and FAIL (why) when it failed or ran out of time
train_step() {
    local name="$1" limit; limit="$(cap "$2")"; shift 2
    local t0=$SECONDS
    FIG="" FAIL=""
    timeout "$limit" "$PY" -m latentatlas train --out "$WORK/$name" --progress-every 0 "$@" \
        > "$WORK/$name.log" 2>&1
    local rc=$?
    WALL=$(( SECONDS - t0 ))
    if (( rc == 124 )); then FAIL="timed out after ${limit} s"; return; fi
    if (( rc != 0 )); then FAIL="failed: $(last_line "$WORK/$name.log")"; return; fi
    FIG="$(run_figures "$WORK/$name")"
}

training_checks() {
    DEADLINE=$(( SECONDS + 300 ))      # the training half's share of the 8 minutes
    local data=(--dataset mnist) deep=(--epochs 2) pythae=(--images 60000 --repeats 2)
    local run=(--dataset mnist)
    if (( TINY )); then
        data=(--dataset mnist-sample --max-train-images 512 --epochs 2 --threads 1)
        deep=(--dataset mnist-sample --max-train-images 256 --epochs 1 --threads 1)
        pythae=(--images 512 --repeats 1 --threads 1)
        run=(--dataset mnist-sample --max-train-images 512 --epochs 1 --threads 1 --projections pca:2 --probes knn
             --clusterers kmeans --no-judge --sampler gaussian --no-interactive --raw-max-samples 200)
    fi
    # the key figures first, so a slow machine cuts the comparisons, not them
    vae_check "${data[@]}"
    run_check "${run[@]}"
    cifar_check
    train_step deep-ae 90 --preset deep-ae "${deep[@]}"
    row "deep-ae (Muon) s/epoch" "${FIG:+$(cut -d' ' -f1 <<< "$FIG") s (test MSE $(cut -d' ' -f5 <<< "$FIG"))}${FAIL}" \
        "<= 2 s"
    pythae_check "${pythae[@]}"
    vae_variants "${data[@]}"
    DEADLINE=$BUDGET_S
}

# the default VAE (compile auto: CUDA graphs on CUDA); epoch 1 holds the compilation
vae_check() {
    train_step vae 120 --preset default-vae "$@"
    if [[ -z "$FIG" ]]; then
        row "default VAE s/epoch (median of epochs 2-5)" "$FAIL" "<= 0.5 s"
        return
    fi
    read -r med first total loss _ ips <<< "$FIG"
    row "default VAE s/epoch (median of epochs 2-5)" "$med s ($ips images/s)" "<= 0.5 s"
    row "default VAE epoch 1 (with compilation) s" "$first s" "-"
    row "default VAE 5-epoch test loss" "$loss" "<= 101.55"
    row "default VAE 5 epochs, evaluation included" "$total s (process $WALL s)" "<= 5 s"
}

vae_variants() {
    # the same eagerly: which --compile should auto be?
    train_step vae-eager 45 --preset default-vae "$@" --compile none --epochs 2
    row "default VAE, --compile none, s/epoch (epoch 2)" "${FIG:+$(cut -d' ' -f1 <<< "$FIG") s}${FAIL}" "-"
    # the gpu-vae preset: batch 128 with the square-root rule (on the CPU, 5 epochs: test loss
    # 101.11; batch 256 102.32, 512 105.09; see docs/training.md)
    train_step gpu-vae 90 --preset gpu-vae "$@"
    if [[ -n "$FIG" ]]; then
        read -r med _ total loss _ _ <<< "$FIG"
        row "gpu-vae (batch 128, sqrt lr): s/epoch, test loss" "$med s, $loss (5 epochs $total s)" "<= 101.55"
    else
        row "gpu-vae (batch 128, sqrt lr)" "$FAIL" "<= 101.55"
    fi
}

pythae_check() {
    if ! "$PY" -c "import pythae" > /dev/null 2>&1; then
        row "pythae: ours / Pythae images/s (batch 128)" "skipped: no pythae wheel" ">= 3x"
        return
    fi
    local limit; limit="$(cap 150)"
    PYTHAE_PYTHON="$PY" timeout "$limit" "$PY" "$ROOT/benchmarks/bench_pythae.py" --batch-size 128 "$@" \
        > "$WORK/pythae.log" 2>&1
    local rc=$? ratio
    ratio="$(grep -o 'speed-up (median of per-pair ratios): [0-9.]*x' "$WORK/pythae.log" | grep -o '[0-9.]*x$')"
    if (( rc == 124 )); then ratio="timed out after ${limit} s"
    elif (( rc != 0 )) || [[ -z "$ratio" ]]; then ratio="failed: $(last_line "$WORK/pythae.log")"; fi
    row "pythae: ours / Pythae images/s (batch 128)" "$ratio" ">= 3x"
}

run_check() {
    local limit t0=$SECONDS; limit="$(cap 240)"
    timeout "$limit" "$PY" -m latentatlas run --out "$WORK/run" "$@" > "$WORK/run.log" 2>&1
    local rc=$? wall=$(( SECONDS - t0 ))
    if (( rc == 124 )); then row "run --dataset mnist (defaults), wall" "timed out after ${limit} s" "<= 60 s"
    elif (( rc != 0 )); then row "run --dataset mnist (defaults), wall" "failed: $(last_line "$WORK/run.log")" "<= 60 s"
    else row "run --dataset mnist (defaults), wall" "$wall s" "<= 60 s"; fi
}

# issue 15: the full CIFAR-10 run with its preset (judge included) within 2 minutes
cifar_check() {
    local what="run --preset cifar10-vae (full CIFAR-10, judge included), wall" extra=() limit t0 rc
    if ! "$PY" -c "import sys; from latentatlas.data import archives; sys.exit(0 if archives.locate('cifar10').found else 1)" \
        2> /dev/null; then
        # no CIFAR-10 here: the official format and sizes, random pictures
        "$PY" -c "import sys; sys.path.insert(0, '$ROOT/benchmarks'); from pathlib import Path; \
from bench_run import synthetic_cifar; synthetic_cifar(Path('$WORK/synthetic/cifar10'))" || return
        extra=(--data-dir "$WORK/synthetic/cifar10")
        what="$what [SYNTHETIC images in CIFAR-10's format: time only]"
    fi
    if (( TINY )); then
        # two classes: the tiny run checks the path, and encoding all 60,000 images took half its time
        extra+=(--classes 0,1 --max-train-images 512 --epochs 1 --threads 1 --projections pca:2 --probes knn
                --clusterers kmeans --no-judge --sampler gaussian --no-interactive --raw-max-samples 200)
    fi
    limit="$(cap 150)" t0=$SECONDS
    timeout "$limit" "$PY" -m latentatlas run --preset cifar10-vae --out "$WORK/cifar10" "${extra[@]}" \
        > "$WORK/cifar10.log" 2>&1
    rc=$?
    if (( rc == 124 )); then row "$what" "timed out after ${limit} s" "<= 120 s"
    elif (( rc != 0 )); then row "$what" "failed: $(last_line "$WORK/cifar10.log")" "<= 120 s"
    else row "$what" "$(( SECONDS - t0 )) s" "<= 120 s"; fi
}

analysis_checks() {
    # Issue 14 item 3: the same codes through the CPU libraries and the torch backend (the GPU):
    # time per step and trustworthiness, kNN accuracy, cluster accuracy side by side (within
    # 0.01); then item 5, the scaling table of the torch-backed steps. JSON of each under $WORK.
    # Both are held to what is left of the 8 minutes; each prints its rows as they come.
    local sizes="${GPU_CHECK_SIZES:-70000}" scale="${GPU_CHECK_SCALING_SIZES:-10000,70000,300000,1000000}" limit rc
    if (( TINY )); then
        sizes="${GPU_CHECK_SIZES:-1000}" scale="${GPU_CHECK_SCALING_SIZES:-500,1000}"
    fi
    limit="$(cap 150)"
    timeout "$limit" "$PY" "$ROOT/benchmarks/gpu_check_analysis.py" --sizes "$sizes" --out "$WORK/analysis.json"
    rc=$?
    if (( rc == 124 )); then row "analysis backends (cpu vs torch)" "timed out after ${limit} s (rows above)" "within 0.01"
    elif (( rc != 0 )); then row "analysis backends (cpu vs torch)" "failed: see the output above" "within 0.01"; fi
    if [[ "${GPU_CHECK_SCALING:-1}" == 1 ]]; then
        # the steps the torch backend computes (t-SNE, UMAP, the SVM and the mixtures stay on the
        # CPU: bench_scaling.py's CPU table)
        limit="$(cap 240)"
        timeout "$limit" "$PY" "$ROOT/benchmarks/bench_scaling.py" --backend torch --sizes "$scale" \
            --steps knn,logreg,knn-probe,kmeans --timeout 90 --out "$WORK/scaling_torch.json" > "$WORK/scaling.log" 2>&1
        rc=$?
        if (( rc == 124 )); then
            grep -E '^ +[0-9,]+ ' "$WORK/scaling.log" | sed 's/^/scaling (torch) | /'
            row "scaling (torch backend), 10k-1M codes" "stopped at the budget after ${limit} s (rows above)" \
                "<= N log N"
        else
            sed -n '/^step/,$p' "$WORK/scaling.log" | sed 's/^/scaling (torch) | /'
        fi
    fi
}

# issue 27: sweep packing, 0.25 against 1 GPU per trial (bench_sweep.py --packing). No GPU (the
# tiny CPU sizes): unmeasured, nothing run; under a minute left of the 8: not run, and why
sweep_check() {
    local what="sweep packing: trials/min at 0.25 vs 1 GPU per trial (8 tiny MNIST trials)" target="> 1x: packing helps"
    local limit rc line
    if (( TINY )); then row "$what" "unmeasured (no GPU)" "$target"; return; fi
    if (( BUDGET_S - SECONDS < 60 )); then
        row "$what" "not run: the 8 minutes were spent (GPU_CHECK_ONLY=sweep runs it alone)" "$target"; return
    fi
    limit="$(cap 240)"
    timeout "$limit" "$PY" "$ROOT/benchmarks/bench_sweep.py" --packing --dataset mnist --trials 8 --images 2000 \
        --epochs 1 > "$WORK/sweep.log" 2>&1
    rc=$?
    line="$(grep '^packing' "$WORK/sweep.log" | tail -n 1)"
    if (( rc == 124 )); then row "$what" "timed out after ${limit} s" "$target"
    elif (( rc != 0 )) || [[ -z "$line" ]]; then row "$what" "failed: $(last_line "$WORK/sweep.log")" "$target"
    else row "$what" "${line#*: }" "$target"; fi
}

# issue 14 item 2: every core against 2 jobs, the CPU-only analysis of one run's codes
cores_check() {
    local run=() out="$WORK/cores.log"
    [[ -f "$WORK/run/latents.npz" ]] && run=(--run "$WORK/run")
    if (( TINY )); then
        "$PY" -m latentatlas train --dataset mnist-sample --max-train-images 512 --epochs 1 --threads 1 \
            --out "$WORK/cores-run" --progress-every 0 > "$WORK/cores-train.log" 2>&1 \
            && "$PY" -m latentatlas encode "$WORK/cores-run" >> "$WORK/cores-train.log" 2>&1
        # pca only at tiny sizes: a UMAP compiles for tens of seconds in every analysis process
        # --lanes on: the lanes even at 1 job, so the tiny sizes still compare lanes with one process
        run=(--run "$WORK/cores-run" --jobs 1,2 -- --projections pca:2 --probes knn --clusterers kmeans
             --raw-max-samples 200 --projection-max-samples 2000 --quality-max-samples 300 --no-interactive
             --lanes on)
    fi
    # --one-process: every core once more with --lanes off, what the lanes (stages/lanes.py) give
    if "$PY" "$ROOT/benchmarks/bench_cores.py" --work "$WORK/cores" --out "$WORK/cores.json" --one-process \
            "${run[@]}" > "$out" 2>&1; then
        sed -n '/^run:/,$p' "$out" | sed 's/^/cores | /'
        row "CPU analysis, every core vs 2 jobs (whole analyze)" \
            "$(grep -o '[0-9.]*x   target' "$out" | grep -o '^[0-9.]*x')" ">= 4x on 16 cores"
        row "  every core: one process / lanes (wall)" "$("$PY" -c 'import json, sys
w = json.load(open(sys.argv[1]))["wall_s"]
one = next(k for k in w if k.endswith("-one-process"))
print("%.2fx" % (w[one] / w[one.split("-")[0]]))' "$WORK/cores.json")" "> 1x: the lanes help"
    else
        row "CPU analysis, every core vs 2 jobs" "failed: $(last_line "$out")" ">= 4x on 16 cores"
    fi
}

print_table() {
    echo
    "$PY" - "$ROWS" "$TINY" <<'PY'
import sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
head = ("what", "measured", "target")
w = [max(len(r[i]) for r in rows + [head]) for i in range(3)]
if sys.argv[2] == "1":
    print("(CPU, tiny sizes: GPU_CHECK_ALLOW_CPU=1; these are not the GPU's figures)")
for r in [head, tuple("-" * n for n in w)] + rows:
    print(" | ".join(c.ljust(n) for c, n in zip(r, w)))
PY
    echo "(logs and run folders: $WORK; $SECONDS s in all)"
    [[ "${GPU_CHECK_ONLY:-all}" == cores ]] || echo "(issue 14 item 2, the CPU-only analysis with every core" \
        "against 2 jobs, is outside the 8 minutes: GPU_CHECK_ONLY=cores bash benchmarks/gpu_check.sh)"
}

main() {
    setup
    check_device
    case "${GPU_CHECK_ONLY:-all}" in
        training) training_checks ;;
        analysis) analysis_checks ;;
        sweep) sweep_check ;;
        cores) cores_check ;;
        *) training_checks; analysis_checks; sweep_check ;;
    esac
    print_table
}

main "$@"
