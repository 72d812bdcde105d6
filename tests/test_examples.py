"""The Examples in the package's docstrings run and show what they say."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from typing import Any

import pytest

import gabordiag

MODULES = sorted(name for _, name, _ in pkgutil.walk_packages(gabordiag.__path__, "gabordiag.")
                 if not name.startswith("gabordiag.cli"))


def _module(name: str) -> Any:
    """The module, or ``None`` for a module of ``gabordiag layer`` that needs torch (an
    optional extra) when torch is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if exc.name == "torch" and name.startswith("gabordiag.analysis.layer."):
            return None
        raise


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = _module(name)
    if module is None:
        pytest.skip("needs torch")
    failed, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert failed == 0, name


def test_every_layer_has_examples() -> None:
    modules = {name: module for name in MODULES if (module := _module(name)) is not None}
    tested = {name for name, module in modules.items()
              if doctest.DocTestFinder().find(module)
              and any(t.examples for t in doctest.DocTestFinder().find(module))}
    for layer in ("config", "core", "engines", "analysis"):
        assert any(name.startswith(f"gabordiag.{layer}.") for name in tested), layer
