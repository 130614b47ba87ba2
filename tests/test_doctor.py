"""``edgeembed doctor``: facts about this machine, the fitting profile, bundle health."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from edgeembed.cli.app import app
from edgeembed.tools.doctor import MachineFacts, best_profile, check_bundle, machine_facts


def facts(**changes) -> MachineFacts:
    base = dict(arch="x86_64", cpu="AMD EPYC", cores=2, features=[], memory_gb=8.0, os="Debian 12",
                python="3.11.7", glibc="glibc 2.36", runtimes={"openvino": "missing"})
    return MachineFacts(**{**base, **changes})


def test_profile_choice_follows_the_hardware():
    assert best_profile(facts(arch="aarch64", board="Raspberry Pi 5 Model B Rev 1.0"))[0] == "rpi5"
    assert best_profile(facts(arch="aarch64", board="Raspberry Pi 4 Model B Rev 1.4"))[0] == "rpi4"
    assert best_profile(facts(arch="aarch64", board="NVIDIA Jetson AGX Orin Developer Kit"))[0] == "jetson-agx-orin"
    assert best_profile(facts(arch="aarch64", board="NVIDIA Jetson Orin Nano Developer Kit"))[0] == "jetson-orin-nano"
    assert best_profile(facts(arch="aarch64", board="Raspberry Pi Zero 2 W Rev 1.0"))[0] == "rpi-zero2"
    assert best_profile(facts(arch="aarch64", board="Raspberry Pi 3 Model B Plus Rev 1.3"))[0] == "rpi-zero2"
    assert best_profile(facts(arch="aarch64"))[0] == "arm64"
    intel = dict(cpu="Intel(R) Core(TM) Ultra 7 155H", runtimes={"openvino": "2026.4.1"})
    assert best_profile(facts(**intel))[0] == "intel-cpu"
    assert best_profile(facts(**intel, accelerators=["OpenVINO GPU"]))[0] == "intel-igpu"
    assert best_profile(facts(**intel, accelerators=["OpenVINO GPU", "OpenVINO NPU"]))[0] == "intel-npu"
    assert best_profile(facts())[0] == "x86-64"


def test_machine_facts_here():
    here = machine_facts()
    assert here.cores >= 1 and here.python.count(".") == 2
    assert set(here.runtimes) == {"ai-edge-litert", "tflite-runtime", "openvino", "onnxruntime", "numpy"}


def test_bundle_check_reports_damage(fp32_bundle):
    assert check_bundle(fp32_bundle)["ok"] is True
    (fp32_bundle / "tokenizer.json").write_text("{}")
    result = check_bundle(fp32_bundle)
    assert result["ok"] is False and "sha256 mismatch" in result["error"]


def test_doctor_cli_json_and_exit_code(fp32_bundle):
    runner = CliRunner()
    done = runner.invoke(app, ["doctor", "--bundle", str(fp32_bundle), "--json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert report["bundle"]["ok"] and report["profile"]["name"]
    (fp32_bundle / "report.json").write_text("{}")
    assert runner.invoke(app, ["doctor", "--bundle", str(fp32_bundle)]).exit_code == 1
