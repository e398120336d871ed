"""JUnit XML for CI dashboards: one test case per judged scenario of a nightly run."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

PASSED, FAILED, SKIPPED, ERROR = "passed", "failure", "skipped", "error"


@dataclass(frozen=True)
class Case:
    name: str
    classname: str
    status: str          # PASSED, FAILED, SKIPPED or ERROR
    seconds: float = 0.0
    message: str = ""    # one line, shown in the dashboard's list
    text: str = ""       # the full evidence: metrics, culprit, report
    properties: dict[str, str] = field(default_factory=dict)   # e.g. new: whether the failure is news


def junit_xml(suite: str, cases: list[Case]) -> str:
    counts = {status: sum(1 for c in cases if c.status == status) for status in (FAILED, SKIPPED, ERROR)}
    root = ET.Element("testsuites")
    node = ET.SubElement(root, "testsuite", name=suite, tests=str(len(cases)), failures=str(counts[FAILED]),
                         errors=str(counts[ERROR]), skipped=str(counts[SKIPPED]),
                         time=f"{sum(c.seconds for c in cases):.3f}")
    for case in cases:
        element = ET.SubElement(node, "testcase", name=case.name, classname=case.classname,
                                time=f"{case.seconds:.3f}")
        if case.properties:
            listed = ET.SubElement(element, "properties")
            for name, value in case.properties.items():
                ET.SubElement(listed, "property", name=name, value=value)
        if case.status != PASSED:
            detail = ET.SubElement(element, case.status, message=case.message)
            detail.text = case.text
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(path: Path, suite: str, cases: list[Case]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit_xml(suite, cases))
    return path
