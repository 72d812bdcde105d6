"""JUnit XML for CI systems: one test suite per checked file, one test case per
expectation."""

from __future__ import annotations

from xml.etree import ElementTree

from ..analysis.check import FileCheck

__all__ = ["to_junit"]


def to_junit(checks: list[FileCheck], seconds: float) -> str:
    """JUnit XML: one test suite per file, one test case per expectation."""
    root = ElementTree.Element("testsuites", name="gabordiag check",
                               tests=str(sum(len(c.results) for c in checks)),
                               failures=str(sum(not r.passed for c in checks
                                                for r in c.results)),
                               time=f"{seconds:.3f}")
    for check in checks:
        suite = ElementTree.SubElement(
            root, "testsuite", name=str(check.path), tests=str(len(check.results)),
            failures=str(sum(not r.passed for r in check.results)), errors="0",
            time=f"{check.seconds:.3f}")
        for r in check.results:
            case = ElementTree.SubElement(suite, "testcase", classname=str(check.path),
                                          name=r.key, time=f"{r.seconds:.3f}")
            if not r.passed:
                failure = ElementTree.SubElement(case, "failure", message=r.message,
                                                 type="ExpectationFailed")
                failure.text = (f"expected {r.key} = {r.expected!r}, measured "
                                f"{r.measured!r}: {r.message}")
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(
        root, encoding="unicode") + "\n"
