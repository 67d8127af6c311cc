"""The Makefile's doors: `make serve INDEX=...` uses the index the user named."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _planned(*args: str) -> str:
    if shutil.which("make") is None:
        pytest.fail("make is not installed: the README's two commands need it")
    result = subprocess.run(
        ["make", "-n", "serve", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT)},
    )  # no RAG_INDEX_DIR from the caller
    return next(line for line in result.stdout.splitlines() if "rag serve" in line)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/srv/briefings-index", "/srv/briefings-index"),  # absolute: as given, not under the checkout
        ("my-index", str(ROOT / "my-index")),
    ],
)
def test_make_serve_uses_the_named_index(given: str, expected: str) -> None:
    assert _planned(f"INDEX={given}").endswith(f"--index {expected}")


def test_make_serve_default_index_is_in_the_checkout() -> None:
    assert _planned().endswith(f"--index {ROOT / '.rag-index'}")
