"""The bfloat16 warning on CPUs without bfloat16 units."""

import pytest

from conftest import fake_cpuinfo
from tfvrc import cli
from tfvrc import cpu

AVX2_ONLY = "fpu sse2 avx fma avx2"
AMX = "fpu sse2 avx avx2 avx512f avx512_bf16 amx_bf16 amx_tile"


def test_feature_flags_and_fields_are_read(tmp_path):
  path = fake_cpuinfo(tmp_path, AVX2_ONLY)
  assert cpu.feature_flags(path) == set(AVX2_ONLY.split())
  assert cpu.field("model name", path) == "test"
  assert cpu.field("microcode", path) is None


@pytest.mark.parametrize("flags", [AMX, "avx2 avx512_bf16", "avx2 amx_bf16"])
def test_no_warning_with_bfloat16_units(tmp_path, flags):
  assert cpu.bfloat16_warning(fake_cpuinfo(tmp_path, flags)) is None


def test_warning_without_bfloat16_units(tmp_path):
  warning = cpu.bfloat16_warning(fake_cpuinfo(tmp_path, AVX2_ONLY))
  assert "avx512_bf16" in warning and "amx_bf16" in warning


def test_no_warning_where_features_are_unknown(tmp_path):
  assert cpu.bfloat16_warning(str(tmp_path / "missing")) is None
  # An ARM cpuinfo lists "Features", not x86 "flags".
  assert cpu.bfloat16_warning(
      fake_cpuinfo(tmp_path, "fp asimd bf16", key="Features")) is None


@pytest.mark.parametrize("flags,warned", [(AVX2_ONLY, True), (AMX, False)])
def test_cli_warns_about_slow_bfloat16(tmp_path, monkeypatch, capsys, flags,
                                       warned):
  monkeypatch.setattr(cpu, "CPUINFO", fake_cpuinfo(tmp_path, flags))
  out = tmp_path / "sample.tfvrc"
  assert cli.main(["compress", cli.SAMPLE_IMAGE, str(out),
                   "--precision", "bfloat16"]) == 0
  assert out.stat().st_size > 0
  stderr = capsys.readouterr().err
  assert ("warning: this CPU has none of avx512_bf16" in stderr) == warned
