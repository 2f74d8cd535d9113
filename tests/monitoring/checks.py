"""Structural checks of the shipped Grafana dashboard and Prometheus rules (test helpers).

Written from the Grafana dashboard JSON model (classic form: uid, title, panels with gridPos on
a 24-column grid, targets with refId, templating.list, schemaVersion) and the Prometheus
rule-file format (groups of rules with alert/expr/for/labels/annotations). No Grafana or
Prometheus server runs here; metric names are checked against a real predictor's /metrics.
"""

from __future__ import annotations

import re
from typing import Any

DURATION = re.compile(r"^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$")
METRIC = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "inf", "nan",
}  # fmt: skip
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
PANEL_TYPES = {"timeseries", "barchart", "heatmap", "table", "stat", "gauge", "row", "bargauge"}
UNITS = {"short", "reqps", "s", "ms", "percentunit", "percent", "none"}
RULE_KEYS = {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}
SEVERITIES = {"critical", "warning", "info"}


class CheckError(AssertionError):
    """A shipped monitoring file breaks its format."""


def balanced(text: str) -> bool:
    """Brackets, parentheses and braces nest properly (outside string literals)."""
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    for char in text:
        if char in "([{":
            stack.append(char)
        elif char in pairs:
            if not stack or stack.pop() != pairs[char]:
                return False
    return not stack


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (functions, keywords and labels left out)."""
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = GROUPING.sub(" ", text)
    names = set()
    for match in METRIC.finditer(text):
        before = text[match.start() - 1] if match.start() else " "
        if before.isdigit() or before in ".$":
            continue  # 1e-9, $variable
        rest = text[match.end() :].lstrip()
        if rest.startswith("(") or match.group(0) in KEYWORDS:
            continue
        names.add(match.group(0))
    return names


def grouping_labels(expr: str) -> set[str]:
    """Label names in by/without/on/ignoring clauses."""
    labels = set()
    for match in GROUPING.finditer(expr):
        labels |= {x.strip() for x in match.group(2).split(",") if x.strip()}
    return labels


def matcher_labels(expr: str) -> set[str]:
    """Label names in selectors' matchers (``{code=~"5..", variant="canary"}``)."""
    labels = set()
    for block in re.findall(r"\{([^}]*)\}", re.sub(r"\{\{[^}]*\}\}", "", expr)):
        labels |= set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", block))
    return labels


def check_rules(document: Any) -> list[dict]:
    """Checks a Prometheus rule file; returns its rules."""
    if not isinstance(document, dict) or set(document) != {"groups"}:
        raise CheckError("rule file: a mapping with the one key 'groups'")
    groups = document["groups"]
    if not isinstance(groups, list) or not groups:
        raise CheckError("groups: a non-empty list")
    names: set[str] = set()
    alerts: set[str] = set()
    rules: list[dict] = []
    for g, group in enumerate(groups):
        where = f"groups[{g}]"
        if not isinstance(group, dict) or not isinstance(group.get("name"), str):
            raise CheckError(f"{where}.name: required string")
        if group["name"] in names:
            raise CheckError(f"{where}.name: duplicate group name")
        names.add(group["name"])
        unknown = set(group) - {"name", "interval", "limit", "rules", "query_offset", "labels"}
        if unknown:
            raise CheckError(f"{where}: unknown keys {sorted(unknown)}")
        if "interval" in group and not DURATION.match(str(group["interval"])):
            raise CheckError(f"{where}.interval: not a Prometheus duration")
        if not isinstance(group.get("rules"), list) or not group["rules"]:
            raise CheckError(f"{where}.rules: a non-empty list")
        for r, rule in enumerate(group["rules"]):
            at = f"{where}.rules[{r}]"
            if not isinstance(rule, dict) or set(rule) - RULE_KEYS:
                raise CheckError(f"{at}: unknown keys {sorted(set(rule) - RULE_KEYS)}")
            if ("alert" in rule) == ("record" in rule):
                raise CheckError(f"{at}: exactly one of alert and record")
            name = rule.get("alert") or rule.get("record")
            if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_:][A-Za-z0-9_:]*", name):
                raise CheckError(f"{at}.alert: not a valid name")
            if name in alerts:
                raise CheckError(f"{at}.alert: duplicate {name}")
            alerts.add(name)
            expr = rule.get("expr")
            if not isinstance(expr, str) or not expr.strip() or not balanced(expr):
                raise CheckError(f"{at}.expr: empty or unbalanced")
            if not metric_names(expr):
                raise CheckError(f"{at}.expr: selects no metric")
            for key in ("for", "keep_firing_for"):
                if key in rule and not DURATION.match(str(rule[key])):
                    raise CheckError(f"{at}.{key}: not a Prometheus duration")
            if "alert" in rule:
                labels = rule.get("labels")
                if not isinstance(labels, dict) or labels.get("severity") not in SEVERITIES:
                    raise CheckError(f"{at}.labels.severity: one of {sorted(SEVERITIES)}")
                if not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
                    raise CheckError(f"{at}.labels: string keys and values")
                notes = rule.get("annotations")
                if not isinstance(notes, dict) or not {"summary", "description"} <= set(notes):
                    raise CheckError(f"{at}.annotations: summary and description required")
                for key, text in notes.items():
                    if text.count("{{") != text.count("}}"):
                        raise CheckError(f"{at}.annotations.{key}: unbalanced template")
            rules.append(rule)
    return rules


def _overlap(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["w"] <= b["x"]
        or b["x"] + b["w"] <= a["x"]
        or a["y"] + a["h"] <= b["y"]
        or b["y"] + b["h"] <= a["y"]
    )


def check_dashboard(dashboard: Any) -> list[str]:
    """Checks a classic Grafana dashboard; returns every PromQL expression of its panels."""
    required = {
        "uid": str, "title": str, "tags": list, "timezone": str, "editable": bool,
        "graphTooltip": int, "panels": list, "time": dict, "templating": dict,
        "annotations": dict, "refresh": str, "schemaVersion": int, "version": int, "links": list,
    }  # fmt: skip
    if not isinstance(dashboard, dict):
        raise CheckError("dashboard: a JSON object")
    for key, kind in required.items():
        if not isinstance(dashboard.get(key), kind):
            raise CheckError(f"{key}: required {kind.__name__}")
    if not re.fullmatch(r"[A-Za-z0-9_-]{8,40}", dashboard["uid"]):
        raise CheckError("uid: 8 to 40 letters, digits, - or _")
    if dashboard["schemaVersion"] < 30:
        raise CheckError("schemaVersion: a current dashboard (30 or later)")
    if not {"from", "to"} <= set(dashboard["time"]):
        raise CheckError("time: from and to required")
    variables = dashboard["templating"].get("list")
    if not isinstance(variables, list):
        raise CheckError("templating.list: required list")
    defined = {v.get("name") for v in variables}
    for v in variables:
        if v.get("type") not in {"datasource", "query", "custom", "constant", "interval"}:
            raise CheckError(f"templating.list[{v.get('name')}].type: unknown")
    if not any(v.get("type") == "datasource" and v.get("query") == "prometheus" for v in variables):
        raise CheckError("templating.list: a Prometheus datasource variable is required")
    ids: set[int] = set()
    boxes: list[tuple[int, dict]] = []
    exprs: list[str] = []
    for n, panel in enumerate(dashboard["panels"]):
        at = f"panels[{n}]"
        pid = panel.get("id")
        if not isinstance(pid, int) or pid in ids:
            raise CheckError(f"{at}.id: unique integer required")
        ids.add(pid)
        if panel.get("type") not in PANEL_TYPES:
            raise CheckError(f"{at}.type: unknown panel type")
        if not isinstance(panel.get("title"), str) or not panel["title"]:
            raise CheckError(f"{at}.title: required")
        grid = panel.get("gridPos")
        if not isinstance(grid, dict) or not all(isinstance(grid.get(k), int) for k in "hwxy"):
            raise CheckError(f"{at}.gridPos: integer h, w, x, y required")
        if grid["x"] < 0 or grid["w"] < 1 or grid["h"] < 1 or grid["x"] + grid["w"] > 24:
            raise CheckError(f"{at}.gridPos: outside the 24-column grid")
        for other_id, other in boxes:
            if _overlap(grid, other):
                raise CheckError(f"{at}.gridPos: overlaps panel {other_id}")
        boxes.append((pid, grid))
        if panel["type"] == "row":
            continue
        source = panel.get("datasource") or {}
        if source.get("type") != "prometheus" or source.get("uid") != "${datasource}":
            raise CheckError(f"{at}.datasource: the ${{datasource}} Prometheus variable")
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
        if unit not in UNITS:
            raise CheckError(f"{at}.fieldConfig.defaults.unit: unknown unit")
        targets = panel.get("targets")
        if not isinstance(targets, list) or not targets:
            raise CheckError(f"{at}.targets: a non-empty list")
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs) or not all(isinstance(r, str) and r for r in refs):
            raise CheckError(f"{at}.targets: unique refId required")
        for t, target in enumerate(targets):
            expr = target.get("expr")
            if not isinstance(expr, str) or not expr.strip() or not balanced(expr):
                raise CheckError(f"{at}.targets[{t}].expr: empty or unbalanced")
            for variable in re.findall(r"\$\{?([a-zA-Z_]\w*)", expr):
                if variable not in defined and not variable.startswith("__"):
                    raise CheckError(f"{at}.targets[{t}].expr: undefined variable ${variable}")
            exprs.append(expr)
    return exprs


def exported(metrics_text: str) -> tuple[set[str], set[str]]:
    """Sample names and label names a /metrics page can serve (from its TYPE lines and samples)."""
    names: set[str] = set()
    labels: set[str] = set()
    for line in metrics_text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            names.add(name)
            if kind == "histogram":
                names |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
                labels.add("le")
            if kind == "counter" and not name.endswith("_total"):
                names.add(f"{name}_total")
        elif line and not line.startswith("#"):
            match = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s", line)
            if match:
                names.add(match.group(1))
                labels |= set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', match.group(3) or ""))
    return names, labels
