#!/usr/bin/env bash
# The emulated-device test: packages for an emulated Raspberry Pi 5 (Debian 12 arm64 under
# qemu-user, Cortex-A76, the Pi's cpuinfo), installed with their own install.sh, offline,
# compared with x86 embeddings of the same bundles; then the rpi4 package and the rpi5
# (int8-dynamic) bundle on the ARMv8.0 cores of the Pi 4 (Cortex-A72) and the Pi 3 / Zero 2 W
# (Cortex-A53), with the LiteRT wheel as the package ships it and as pip installs it.
# Prints "N passed, N failed". Needs root (binfmt, chroot) and the Debian mirror; about
# 10-14 minutes on a clean 2-core machine.
# Emulated timings mean nothing, so none are measured.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV="${EDGEEMBED_VENV:-.venv}"
EE="$VENV/bin/edgeembed"
PY="$VENV/bin/python"
EMU=scripts/arm64/emu.sh
WORK=$(mktemp -d /var/tmp/edgeembed-arm64-work.XXXXXX)
passed=0; failed=0
check() {  # check NAME COMMAND...: one counted result
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "PASS $name"; else failed=$((failed + 1)); echo "FAIL $name"; fi
}
count_results() {  # count_results LABEL OUTPUT: tallies a device script's PASS/FAIL lines
  local label=$1 output=$2
  echo "$output" | grep -vE "^(PASS|FAIL)" | tail -3
  while read -r line; do
    case "$line" in
      PASS*) passed=$((passed + 1)); echo "$line" ;;
      FAIL*) failed=$((failed + 1)); echo "$line" ;;
    esac
  done <<< "$(echo "$output" | grep -E "^(PASS|FAIL)")"
  echo "$output" | grep -qE "^(PASS|FAIL)" || { failed=$((failed + 1)); echo "FAIL $label: no results"; echo "$output" | tail -15; }
}
finish() {
  bash "$EMU" teardown || true
  # EDGEEMBED_KEEP_RPI5=DIR keeps the converted rpi5 bundle for scripts/arm64-bench.sh.
  if [ -n "${EDGEEMBED_KEEP_RPI5:-}" ] && [ -d "$WORK/minilm-rpi5" ]; then
    rm -rf "$EDGEEMBED_KEEP_RPI5"; mv "$WORK/minilm-rpi5" "$EDGEEMBED_KEEP_RPI5"
  fi
  rm -rf "$WORK"
  echo "arm64 emulated device: $passed passed, $failed failed"
}
trap finish EXIT
set -e
[ "$(id -u)" = 0 ] || { echo "the emulated-device test needs root (binfmt, chroot)"; exit 1; }
bash "$EMU" setup
ROOT=$(bash "$EMU" root)

echo "== bundles and packages (x86 host)"
"$EE" convert --target rpi5 --out "$WORK/minilm-rpi5" >"$WORK/convert.log" 2>&1 || { tail -20 "$WORK/convert.log"; exit 1; }
"$PY" - "$WORK" <<'PYEOF'
import sys
from pathlib import Path
sys.path.insert(0, "tests")
from tiny_models import write_target, write_tiny_model
from edgeembed.converters import convert
work = Path(sys.argv[1])
model = write_tiny_model(work / "tiny-model")
target = write_target(work, "fp32", seq_buckets=(16, 32, 64), batch_size=8)
convert(model, out=work / "tiny-openvino", target=target, format="openvino", quantization="fp32")
convert(model, out=work / "tiny-onnx", target=target, format="onnx", quantization="fp32")
convert(model, out=work / "tiny-static", target=target, format="static")  # the Pi Zero 2 tier: numpy only
PYEOF
"$EE" convert --target rpi4 --out "$WORK/minilm-rpi4" >"$WORK/convert-rpi4.log" 2>&1 || { tail -20 "$WORK/convert-rpi4.log"; exit 1; }
"$EE" package "$WORK/minilm-rpi5" --target rpi5 --out "$WORK/minilm-rpi5.tar.gz"
"$EE" package "$WORK/minilm-rpi4" --target rpi4 --out "$WORK/minilm-rpi4.tar.gz"
"$EE" package "$WORK/tiny-openvino" --target rpi5 --out "$WORK/tiny-openvino-rpi5.tar.gz"
"$EE" package "$WORK/tiny-onnx" --target jetson-orin-nano --out "$WORK/tiny-onnx-jetson.tar.gz"
"$EE" package "$WORK/tiny-static" --target rpi-zero2 --out "$WORK/tiny-static.tar.gz"
for bundle in minilm-rpi5 minilm-rpi4 tiny-openvino tiny-static; do
  "$PY" scripts/arm64/device_check.py write "$WORK/$bundle" "$WORK/$bundle.npy"
done
"$PY" - "$WORK" <<'PYEOF'
import sys
from pathlib import Path
import numpy as np
sys.path.insert(0, "scripts/arm64")
from device_check import SENTENCES
from edgeembed.converters.reference import reference_embeddings
from edgeembed.converters.sources import load_source
from edgeembed.embed.pooling import l2_normalize
from edgeembed.embed.tokenize import BucketTokenizer
work = Path(sys.argv[1])
source = load_source(None)
tokenizer = BucketTokenizer(work / "minilm-rpi5" / "tokenizer.json", 128, (16, 32, 64, 128))
vectors = reference_embeddings(source.model, tokenizer, SENTENCES, source.pooling, True)
np.save(work / "minilm-rpi5.fp32.npy", l2_normalize(vectors))
PYEOF
set +e

echo "== Jetson package: wheels for Python 3.10, glibc <= 2.35 (cannot be emulated)"
check "jetson package wheels are cp310/abi3/py3 aarch64 manylinux <= 2.35" "$PY" - "$WORK/tiny-onnx-jetson.tar.gz" <<'PYEOF'
import re, sys, tarfile
names = [m.name.rsplit("/", 1)[1] for m in tarfile.open(sys.argv[1]).getmembers() if m.name.endswith(".whl")]
bad = []
for name in names:
    tags = name[:-4].split("-")[-3:]
    python, abi, plat = tags
    ok_python = python in ("cp310", "py3", "py2.py3", "cp38", "cp39", "cp37") or python.startswith("py3")
    glibcs = [int(m) for m in re.findall(r"manylinux_2_(\d+)", plat)] or ([17] if "manylinux2014" in plat else [])
    ok_platform = plat == "any" or ("aarch64" in plat and glibcs and min(glibcs) <= 35)
    if not (ok_python and ok_platform):
        bad.append(name)
print(f"{len(names)} wheels; onnxruntime: {[n for n in names if n.startswith('onnxruntime')]}")
print("not for the Jetson:", bad) if bad else None
sys.exit(1 if bad or not any(n.startswith("onnxruntime") for n in names) else 0)
PYEOF

echo "== install and embed on the emulated Raspberry Pi 5"
mkdir -p "$ROOT/opt/ci"
cp scripts/arm64/device_check.py scripts/arm64/serve_check.py "$ROOT/opt/ci/"
for bundle in minilm-rpi5 tiny-openvino tiny-static; do
  archive="$bundle.tar.gz"; [ "$bundle" = tiny-openvino ] && archive=tiny-openvino-rpi5.tar.gz
  rm -rf "$ROOT/opt/ci/$bundle"; mkdir -p "$ROOT/opt/ci/$bundle"
  cp "$WORK/$archive" "$WORK/$bundle".*npy "$ROOT/opt/ci/$bundle/"
  check "$bundle: tar xzf on the device" bash "$EMU" run sh -c "cd /opt/ci/$bundle && tar xzf $archive"
  dir=$(cd "$ROOT/opt/ci/$bundle" && ls -d edgeembed-*/ | head -1); dir=${dir%/}
  check "$bundle: install.sh (offline venv + wheels)" bash "$EMU" run sh "/opt/ci/$bundle/$dir/install.sh" "/opt/ci/$bundle/device"
  site="$ROOT/opt/ci/$bundle/device/venv/lib/python3.11/site-packages"
  check "$bundle: device venv has no torch, tensorflow or jax" sh -c "! ls '$site' | grep -qiE '^(torch|tensorflow|jax)'"
  venv_mb=$(du -sm "$ROOT/opt/ci/$bundle/device/venv" | cut -f1)
  echo "   device install size: $venv_mb MB (venv), wheelhouse $(du -sm "$ROOT/opt/ci/$bundle/$dir/wheelhouse" | cut -f1) MB"
  # The LiteRT device install (server included) stays within 110 MB: numpy, LiteRT and tokenizers
  # are ~95 MB of it; anything that grows it past the bar is a new dependency to question.
  [ "$bundle" = minilm-rpi5 ] && check "$bundle: device venv $venv_mb MB <= 110 MB" test "$venv_mb" -le 110
  fp32=""; [ -f "$ROOT/opt/ci/$bundle/$bundle.fp32.npy" ] && fp32="/opt/ci/$bundle/$bundle.fp32.npy"
  output=$(bash "$EMU" run "/opt/ci/$bundle/device/venv/bin/python" /opt/ci/device_check.py check \
    "/opt/ci/$bundle/$dir/bundle" "/opt/ci/$bundle/$bundle.npy" $fp32 2>&1)
  count_results "$bundle" "$output"
  if [ "$bundle" = minilm-rpi5 ]; then
    echo "   serving: the package's edgeembed.service command, embedding over HTTP on the device"
    output=$(bash "$EMU" run "/opt/ci/$bundle/device/venv/bin/python" /opt/ci/serve_check.py \
      "/opt/ci/$bundle/$dir" "/opt/ci/$bundle/device/venv" "/opt/ci/$bundle/$bundle.npy" 2>&1)
    count_results "$bundle serve" "$output"
  fi
done
check "doctor on the emulated Pi suggests rpi5" sh -c \
  "bash '$EMU' run /opt/ci/minilm-rpi5/device/venv/bin/edgeembed doctor --json | grep -q '\"name\": \"rpi5\"'"

echo "== Raspberry Pi 4, Pi 3 and Pi Zero 2 W: ARMv8.0 cores (no dot product, no LSE atomics)"
# pip's ai-edge-litert wheel carries libLiteRtWebGpuAccelerator.so, which raises SIGILL on these
# cores when the CompiledModel loads it; the device package leaves it out (and ml_dtypes, so the
# package runs the Interpreter anyway). Both installs are checked.
version=$(tar tzf "$WORK/minilm-rpi4.tar.gz" | grep -o 'ai_edge_litert-[0-9.]*-' | head -1 | cut -d- -f2)
"$VENV/bin/pip" download -q --no-deps --only-binary=:all: --platform manylinux_2_27_aarch64 \
  --python-version 3.11 -d "$WORK/pypi" "ai-edge-litert==$version" >"$WORK/pypi.log" 2>&1
wheel=$(ls "$WORK"/pypi/ai_edge_litert-*.whl 2>/dev/null | head -1)
check "ai-edge-litert $version aarch64 wheel from PyPI" test -n "$wheel"
check "runtimes/litert_executor.py names every feature the aarch64 accelerator library checks" "$PY" - "$wheel" <<'PYEOF'
import sys, zipfile
sys.path.insert(0, "tests/runtimes")
from test_litert_executor import library_needs
from edgeembed.runtimes.litert_executor import ACCELERATOR_LIBRARY, ACCELERATOR_NEEDS
needs = library_needs(zipfile.ZipFile(sys.argv[1]).read(f"ai_edge_litert/{ACCELERATOR_LIBRARY}"))
print(f"   the library checks: {' '.join(sorted(needs))}")
sys.exit(0 if needs and needs <= set(ACCELERATOR_NEEDS["aarch64"]) else 1)
PYEOF
armv8_0() {  # armv8_0 CORE CPUINFO LABEL CMD...: a device script on an ARMv8.0 core; death by a signal fails
  local core=$1 cpuinfo=$2 label=$3 output rc; shift 3
  output=$(ARM64_CPU=$core ARM64_CPUINFO="$PWD/scripts/arm64/$cpuinfo" bash "$EMU" run "$@" 2>&1); rc=$?
  [ "$rc" -ge 128 ] && { failed=$((failed + 1)); echo "FAIL [$core] $label: killed by signal $((rc - 128))"; }
  count_results "[$core] $label" "$(echo "$output" | sed -E "s/^(PASS|FAIL) /\1 [$core] $label: /")"
}
bundle=minilm-rpi4
rm -rf "$ROOT/opt/ci/$bundle"; mkdir -p "$ROOT/opt/ci/$bundle"
cp "$WORK/$bundle.tar.gz" "$WORK/$bundle".*npy "$ROOT/opt/ci/$bundle/"
cp scripts/arm64/cli_check.py "$ROOT/opt/ci/"
check "$bundle: tar xzf on the device" bash "$EMU" run sh -c "cd /opt/ci/$bundle && tar xzf $bundle.tar.gz"
dir=$(cd "$ROOT/opt/ci/$bundle" && ls -d edgeembed-*/ | head -1); dir=${dir%/}
rpi5_dir=$(cd "$ROOT/opt/ci/minilm-rpi5" && ls -d edgeembed-*/ | head -1); rpi5_dir=/opt/ci/minilm-rpi5/${rpi5_dir%/}
rpi4_dir=/opt/ci/$bundle/$dir
pyv=/opt/ci/$bundle/device/venv
check "$bundle: install.sh on a Cortex-A72 (Pi 4 cpuinfo)" env ARM64_CPU=cortex-a72 \
  ARM64_CPUINFO="$PWD/scripts/arm64/cpuinfo.rpi4" bash "$EMU" run sh "$rpi4_dir/install.sh" "/opt/ci/$bundle/device"
armv8_0 cortex-a72 cpuinfo.rpi4 "packaged LiteRT" "$pyv/bin/python" /opt/ci/device_check.py check \
  "$rpi4_dir/bundle" "/opt/ci/$bundle/$bundle.npy"
armv8_0 cortex-a72 cpuinfo.rpi4 "packaged LiteRT" "$pyv/bin/python" /opt/ci/cli_check.py "$pyv" \
  "$rpi4_dir/bundle" "/opt/ci/$bundle/$bundle.npy" Interpreter
if [ -n "$wheel" ]; then  # now as pip installs it: the accelerator library and the API's dependencies back
  site="$ROOT$pyv/lib/python3.11/site-packages"
  unzip -p "$wheel" ai_edge_litert/libLiteRtWebGpuAccelerator.so >"$site/ai_edge_litert/libLiteRtWebGpuAccelerator.so"
  "$VENV/bin/pip" download -q --only-binary=:all: --platform manylinux_2_27_aarch64 --platform manylinux2014_aarch64 \
    --python-version 3.11 -d "$WORK/pypi-deps" "ai-edge-litert==$version" >>"$WORK/pypi.log" 2>&1
  for dependency in "$WORK"/pypi-deps/{ml_dtypes,protobuf,flatbuffers,backports_strenum,tqdm}-*.whl; do
    [ -f "$dependency" ] && unzip -qo "$dependency" -d "$site"
  done
  check "the device venv now imports LiteRT's CompiledModel API (as after pip install ai-edge-litert)" \
    env ARM64_CPU=cortex-a72 ARM64_CPUINFO="$PWD/scripts/arm64/cpuinfo.rpi4" \
    bash "$EMU" run "$pyv/bin/python" -c "import ai_edge_litert.compiled_model"
  for core in cortex-a72:cpuinfo.rpi4 cortex-a53:cpuinfo.rpi3; do
    cpuinfo=${core#*:}; core=${core%%:*}
    for pair in "$rpi4_dir:/opt/ci/$bundle/$bundle.npy" "$rpi5_dir:/opt/ci/minilm-rpi5/minilm-rpi5.npy"; do
      package=${pair%%:*}; reference=${pair#*:}
      armv8_0 "$core" "$cpuinfo" "pip's LiteRT" "$pyv/bin/python" /opt/ci/device_check.py check "$package/bundle" "$reference"
      armv8_0 "$core" "$cpuinfo" "pip's LiteRT" "$pyv/bin/python" /opt/ci/cli_check.py "$pyv" "$package/bundle" "$reference" Interpreter
      armv8_0 "$core" "$cpuinfo" "pip's LiteRT, $(basename "$(dirname "$reference")")" \
        "$pyv/bin/python" /opt/ci/serve_check.py "$package" "$pyv" "$reference"
    done
  done
fi
[ "$failed" = 0 ]
