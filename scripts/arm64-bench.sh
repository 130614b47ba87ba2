#!/usr/bin/env bash
# ARM cost report: guest instructions per sentence on the emulated Raspberry Pi 5 (Cortex-A76,
# one thread; ARM64_CPU picks another core) for the rpi5 bundle, its int8-full variant, and ONNX Runtime dynamic INT8 / FP32
# (what fastembed ships), at batch 1 and batch 32, then the cost of one text filling each of
# the rpi5 bundle's buckets (the profile behind its batch-1 figure). Wall-clock under qemu means nothing;
# instruction counts carry over (SIMD width, padding, extra ops). A report, not a test: it
# always exits 0, and prints two tables and their JSON lines ("ARM64_BENCH {...}",
# "ARM64_BUCKETS {...}").
#   scripts/arm64-bench.sh [RPI5_BUNDLE]    (root; reuses scripts/arm64/emu.sh's rootfs)
# ARM64_BENCH_ALSO="cortex-a72:rpi4" counts the bundle and ONNX Runtime INT8 on more cores
# afterwards; ARM64_BENCH_INT8_FULL=0 leaves out the int8-full variant.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV="${EDGEEMBED_VENV:-.venv}"
PY="$VENV/bin/python"
EMU=scripts/arm64/emu.sh
# The emulated core: ARM64_CPU=cortex-a72 ARM64_CPUINFO=scripts/arm64/cpuinfo.rpi4 counts a Pi 4,
# cortex-a53 + cpuinfo.rpi3 a Pi 3 / Zero 2 W (emu.sh binds the matching /proc/cpuinfo).
export ARM64_CPU="${ARM64_CPU:-cortex-a76}"
CPU="$ARM64_CPU"
WORK=$(mktemp -d /var/tmp/edgeembed-arm64-bench.XXXXXX)
report() { echo "arm64-bench: $*"; }
finish() { bash "$EMU" teardown >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap finish EXIT
[ "$(id -u)" = 0 ] || { report "skipped (needs root for binfmt and chroot)"; exit 0; }
bash "$EMU" setup >"$WORK/setup.log" 2>&1 || { report "skipped (emulator setup failed)"; tail -5 "$WORK/setup.log"; exit 0; }
ROOT=$(bash "$EMU" root)

echo "== counting plugin (Debian's dynamic qemu-user; the static one cannot load plugins)"
TOOLS=/var/tmp/edgeembed-insn
mkdir -p "$TOOLS"
if [ ! -x "$TOOLS/qemu/usr/bin/qemu-aarch64" ]; then
  (cd "$TOOLS" && apt-get download qemu-user >/dev/null 2>&1 && dpkg -x qemu-user_*.deb qemu) \
    || { report "skipped (could not fetch qemu-user)"; exit 0; }
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libcapstone4 liburing2 >/dev/null 2>&1 || true
gcc -shared -fPIC -O2 -o "$TOOLS/libmarks.so" scripts/arm64/insn_marks.c \
  || { report "skipped (no C compiler for the plugin)"; exit 0; }

echo "== device packages for the guest (aarch64 wheels, installed from the host)"
SITE=/opt/edgeembed-bench-site
rm -rf "$ROOT$SITE"
"$VENV/bin/pip" install -q --only-binary=:all: --no-compile --target "$ROOT$SITE" \
  --platform manylinux_2_17_aarch64 --platform manylinux2014_aarch64 --platform manylinux_2_27_aarch64 \
  --platform manylinux_2_28_aarch64 --python-version 3.11 --implementation cp --abi cp311 --abi abi3 \
  numpy tokenizers ai-edge-litert onnxruntime >"$WORK/pip.log" 2>&1 \
  || { report "skipped (aarch64 wheels unavailable)"; tail -3 "$WORK/pip.log"; exit 0; }
"$VENV/bin/pip" install -q --no-deps --no-compile --target "$ROOT$SITE" . >>"$WORK/pip.log" 2>&1 \
  || { report "skipped (edgeembed did not build)"; tail -3 "$WORK/pip.log"; exit 0; }

echo "== bundles and baselines (x86 host)"
DATA="$ROOT/opt/edgeembed-bench-data"
rm -rf "$DATA"; mkdir -p "$DATA"
RPI5=${1:-}
if [ -z "$RPI5" ] || [ ! -d "$RPI5" ]; then
  RPI5="$WORK/rpi5"
  "$VENV/bin/edgeembed" convert --target rpi5 --out "$RPI5" >"$WORK/convert.log" 2>&1 \
    || { report "skipped (rpi5 conversion failed)"; tail -5 "$WORK/convert.log"; exit 0; }
fi
cp -r "$RPI5" "$DATA/rpi5"
if [ "${ARM64_BENCH_INT8_FULL:-1}" = 1 ]; then
  "$VENV/bin/edgeembed" convert --target rpi5 -q int8-full --out "$DATA/rpi5-int8-full" >"$WORK/convert-full.log" 2>&1 \
    || report "int8-full variant failed to convert; left out"
fi
"$PY" scripts/arm64/bench_inputs.py "$DATA" "${EDGEEMBED_STS:-../shared/data/stsb-en-dev.csv}" 40 \
  || { report "skipped (baselines failed)"; exit 0; }

echo "== counting (each pipeline: a fresh emulated process, one thread)"
cp scripts/arm64/insn_probe.py scripts/arm64/insn_buckets.py "$DATA/"
results="$WORK/results.txt"; : >"$results"
run_probe() {  # run_probe NAME SPEC_JSON
  local output
  output=$(env -i QEMU_CPU="$CPU" PYTHONPATH="$SITE" TOKENIZERS_PARALLELISM=false HOME=/root LANG=C.UTF-8 \
    OPENBLAS_NUM_THREADS=1 timeout 900 "$TOOLS/qemu/usr/bin/qemu-aarch64" -L "$ROOT" -plugin "$TOOLS/libmarks.so" \
    "$ROOT/usr/bin/python3.11" /opt/edgeembed-bench-data/insn_probe.py "$2" /opt/edgeembed-bench-data/texts.txt 2>&1)
  echo "$output" | "$PY" scripts/arm64/insn_table.py line "$1" >>"$results" || { report "$1 failed"; echo "$output" | tail -5; }
}
B=/opt/edgeembed-bench-data
run_probe "edgeembed rpi5 ($(grep -o '"quantization": "[a-z0-9-]*"' "$DATA/rpi5/edgeembed.json" | cut -d'"' -f4))" \
  "{\"pipeline\":\"edgeembed\",\"bundle\":\"$B/rpi5\",\"threads\":1}"
[ -d "$DATA/rpi5-int8-full" ] && run_probe "edgeembed int8-full" "{\"pipeline\":\"edgeembed\",\"bundle\":\"$B/rpi5-int8-full\",\"threads\":1}"
for kind in int8 fp32; do
  run_probe "onnxruntime $kind (exact lengths)" \
    "{\"pipeline\":\"onnxruntime\",\"onnx\":\"$B/ort-$kind.onnx\",\"tokenizer\":\"$B/tokenizer.json\",\"threads\":1,\"max_seq_length\":128}"
done
"$PY" scripts/arm64/insn_table.py table "$results" "$(wc -l <"$DATA/texts.txt")"

if grep -q '"format": "tflite"' "$DATA/rpi5/edgeembed.json"; then
  echo "== per bucket (rpi5 bundle, one text filling each bucket, batch 1)"
  env -i QEMU_CPU="$CPU" PYTHONPATH="$SITE" TOKENIZERS_PARALLELISM=false HOME=/root LANG=C.UTF-8 \
    OPENBLAS_NUM_THREADS=1 timeout 900 "$TOOLS/qemu/usr/bin/qemu-aarch64" -L "$ROOT" -plugin "$TOOLS/libmarks.so" \
    "$ROOT/usr/bin/python3.11" "$B/insn_buckets.py" "$B/rpi5" 2>&1 | "$PY" scripts/arm64/insn_table.py buckets \
    || report "per-bucket profile failed"
fi

# More cores, the bundle against ONNX Runtime INT8 only: ARM64_BENCH_ALSO="cortex-a72:rpi4 cortex-a53:rpi3"
# (core:board, the board naming scripts/arm64/cpuinfo.BOARD).
for extra in ${ARM64_BENCH_ALSO:-}; do
  CPU=${extra%%:*}; export ARM64_CPU=$CPU
  ARM64_CPUINFO="$(pwd)/scripts/arm64/cpuinfo.${extra##*:}" bash "$EMU" setup >"$WORK/setup-$CPU.log" 2>&1 \
    || { report "$CPU skipped (emulator setup failed)"; continue; }
  echo "== counting on $CPU"
  : >"$results"
  run_probe "edgeembed rpi5 ($(grep -o '"quantization": "[a-z0-9-]*"' "$DATA/rpi5/edgeembed.json" | cut -d'"' -f4))" \
    "{\"pipeline\":\"edgeembed\",\"bundle\":\"$B/rpi5\",\"threads\":1}"
  run_probe "onnxruntime int8 (exact lengths)" \
    "{\"pipeline\":\"onnxruntime\",\"onnx\":\"$B/ort-int8.onnx\",\"tokenizer\":\"$B/tokenizer.json\",\"threads\":1,\"max_seq_length\":128}"
  "$PY" scripts/arm64/insn_table.py table "$results" "$(wc -l <"$DATA/texts.txt")"
done
exit 0
