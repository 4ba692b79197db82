"""The Prometheus alert rules and the Grafana dashboard in ops/: promtool accepts the rules and
their unit tests pass, every series they name is one Conversa exposes, and every alert has its
section in docs/runbook.md. `make test` installs promtool (Debian's `prometheus` package,
scripts/promtool.sh); without it only the promtool tests are skipped."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from conversa.engine import liveness

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "ops" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "ops" / "prometheus" / "alerts_test.yml"
DASHBOARD = ROOT / "ops" / "grafana" / "conversa.json"
RUNBOOK = ROOT / "docs" / "runbook.md"

promtool = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    promtool is None, reason="promtool is not installed (scripts/promtool.sh installs it)"
)


def alerts() -> list[dict]:
    return [
        rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
    ]


def dashboard_queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


def series_named(expression: str) -> set[str]:
    """The conversa_* metric families an expression reads (suffixes of counters and
    histograms taken off)."""
    names = re.findall(r"\bconversa_[a-z0-9_]+", expression)
    return {re.sub(r"_(bucket|count|sum|total)$", "", name) for name in names}


@needs_promtool
def test_promtool_accepts_the_rules():
    checked = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


@needs_promtool
def test_the_rules_unit_tests_pass():
    tested = subprocess.run(
        [promtool, "test", "rules", str(RULE_TESTS)],
        capture_output=True,
        text=True,
        check=False,
        cwd=RULE_TESTS.parent,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_series_the_rules_and_dashboard_read_is_exposed(db):
    liveness.beat("ops:1:abc")
    text = Client(REMOTE_ADDR="127.0.0.1").get("/metrics").content.decode()
    exposed = {family.name for family in text_string_to_metric_families(text)}
    read = set()
    for expression in [rule["expr"] for rule in alerts()] + dashboard_queries():
        read |= series_named(expression)

    assert read, "no conversa_ series found in ops/"
    assert read - exposed == set()


def test_every_alert_has_a_runbook_section_and_a_unit_test():
    headings = set(re.findall(r"^## (\w+)$", RUNBOOK.read_text(), re.MULTILINE))
    tested = RULE_TESTS.read_text()
    for rule in alerts():
        name = rule["alert"]
        assert name in headings, f"docs/runbook.md has no section for {name}"
        assert rule["annotations"]["runbook_url"] == f"docs/runbook.md#{name.lower()}"
        assert f"alertname: {name}" in tested, f"alerts_test.yml never evaluates {name}"


def test_the_dashboard_reads_its_data_source_from_a_variable():
    board = json.loads(DASHBOARD.read_text())
    variables = {variable["name"] for variable in board["templating"]["list"]}
    assert {"datasource", "job"} <= variables
    for panel in board["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert all('job="$job"' in target["expr"] for target in panel["targets"])
