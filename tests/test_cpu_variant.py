"""The chapters' stored outputs do not depend on the CPU they were computed on.

nbval (run by ``make test`` on every notebook under ``chapters/``) compares each stored output
with a fresh run on the same machine, so an output that only holds on that machine (a printed
``4.4e-16`` residual, a value one rounding step from the next digit) passes there and fails on a
learner's or a CI runner's machine whose OpenBLAS picks another kernel. This module re-runs every
chapter notebook, strictly, under conditions that differ from the default ones:

- another OpenBLAS kernel (``OPENBLAS_CORETYPE``): Haswell where the machine picks an AVX-512
  kernel (SkylakeX ...), Sandybridge (AVX without FMA: different rounding) where it picks
  Haswell or Zen;
- PyTorch's vectorised kernels one level lower (``ATEN_CPU_CAPABILITY``: avx2 where it picks
  AVX-512, the non-vectorised "default" where it picks AVX2);
- one thread for OpenBLAS, OpenMP, MKL and therefore PyTorch (which reads ``OMP_NUM_THREADS``),
  so reductions are summed in another order.

A probe checks that the variant really took effect (another kernel, one thread); otherwise the
test fails instead of passing vacuously. The notebook list is ``chapters/*.ipynb``: new chapters
are covered without editing this file.

Cost: one more nbval run of each chapter, single-threaded, about as long as nbval's own run
(measured: 13 min for the six notebooks on 2 cores shared with other jobs at load 12; the default
nbval run of five of them took 8 min there). It is part of ``make test`` (marker ``cpu_variant``;
``-m "not cpu_variant"`` skips it for a quick local run) rather than only in CI: the machine that
writes the outputs is where a CPU-specific one must be caught, before it is pushed. Under
``--dist loadscope`` one worker runs this module while the other runs the rest of the suite.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = pytest.mark.cpu_variant

NOTEBOOKS = sorted((REPO / "chapters").glob("*.ipynb"))
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
# The kernel to force, given the one OpenBLAS picks: a lower instruction set the CPU must have.
VARIANT_KERNEL = {
    "SkylakeX": "Haswell",
    "Cooperlake": "Haswell",
    "SapphireRapids": "Haswell",
    "Haswell": "Sandybridge",
    "Zen": "Sandybridge",
    "Sandybridge": "Nehalem",
}
# PyTorch's kernel family to force, given the one it picks.
VARIANT_TORCH = {"AVX512": "avx2", "AVX2": "default"}
PROBE = """
import json, threadpoolctl, numpy, torch
blas = [i for i in threadpoolctl.threadpool_info() if i["internal_api"] == "openblas"]
print(json.dumps({"kernel": blas[0]["architecture"] if blas else None,
                  "blas_threads": blas[0]["num_threads"] if blas else None,
                  "torch": torch.backends.cpu.get_cpu_capability(),
                  "torch_threads": torch.get_num_threads()}))
"""


def probe(env: dict[str, str]) -> dict:
    """The OpenBLAS kernel and thread counts a fresh Python sees under ``env``."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, f"probe failed (a kernel the CPU lacks?): {proc.stderr[-2000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def base_env() -> dict[str, str]:
    """This process's environment without any BLAS or thread setting it may carry."""
    drop = {"OPENBLAS_CORETYPE", "ATEN_CPU_CAPABILITY", *THREAD_VARIABLES}
    return {k: v for k, v in os.environ.items() if k not in drop}


@pytest.fixture(scope="session")
def variant_env() -> dict[str, str]:
    """Environment with another OpenBLAS kernel and one thread, checked to take effect."""
    default = probe(base_env())
    kernel = VARIANT_KERNEL.get(default["kernel"] or "")
    if kernel is None:
        pytest.skip(f"no known alternative to the OpenBLAS kernel {default['kernel']!r}")
    env = base_env() | {"OPENBLAS_CORETYPE": kernel} | dict.fromkeys(THREAD_VARIABLES, "1")
    torch_kernel = VARIANT_TORCH.get(default["torch"])
    if torch_kernel:
        env["ATEN_CPU_CAPABILITY"] = torch_kernel
    seen = probe(env)
    assert seen["kernel"] == kernel != default["kernel"], (default, seen)
    assert seen["torch"] == (torch_kernel or default["torch"]).upper(), (default, seen)
    assert seen["blas_threads"] == 1 and seen["torch_threads"] == 1, seen
    return env


class _VariantRun:
    """One notebook under the variant. A class per notebook (below), so that ``--dist loadscope``
    schedules each notebook on its own: as one module the nine runs (about one execution of every
    chapter, single-threaded) were one indivisible unit of work that could leave the other worker
    idle at the end of ``make test``."""

    path: Path

    def test_stored_outputs_hold_on_another_cpu(self, variant_env: dict[str, str]) -> None:
        """nbval, strict, on one notebook under the variant: every compared output must match."""
        cmd = [sys.executable, "-m", "pytest", "-p", "no:xdist", "-q", "-rf", str(self.path)]
        proc = subprocess.run(
            cmd, cwd=REPO, env=variant_env, capture_output=True, text=True, timeout=1800
        )
        log = proc.stdout + proc.stderr
        kernel = variant_env["OPENBLAS_CORETYPE"]
        assert proc.returncode == 0, (
            f"{self.path.name}: stored outputs differ with OPENBLAS_CORETYPE={kernel} and one "
            f"thread (print bounds or rounded values, see CONTRIBUTING.md):\n{log[-6000:]}"
        )


for _path in NOTEBOOKS:
    _name = "TestVariant_" + re.sub(r"\W", "_", _path.stem)
    globals()[_name] = type(_name, (_VariantRun,), {"path": _path})
