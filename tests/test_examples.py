"""The Examples in the package's docstrings run and show what they say."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import gabordiag

MODULES = sorted(name for _, name, _ in pkgutil.walk_packages(gabordiag.__path__, "gabordiag.")
                 if not name.startswith("gabordiag.cli"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    failed, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert failed == 0, name


def test_every_layer_has_examples() -> None:
    tested = {name for name in MODULES
              if doctest.DocTestFinder().find(importlib.import_module(name))
              and any(t.examples for t in doctest.DocTestFinder().find(
                  importlib.import_module(name)))}
    for layer in ("config", "core", "engines", "analysis"):
        assert any(name.startswith(f"gabordiag.{layer}.") for name in tested), layer
