"""The evaluation report: HTML (self-contained, inline SVG), Markdown summary, flat metrics.

Everything the gate decided on is shown with the number behind it: each check, each policy's
skills mastered with its interval and learning curve in every fitted family, the paired
differences, slices, item exposure, every off-policy estimator with its interval, the overlap
and the behaviour model's calibration. No figure loads anything from the network.
"""

from __future__ import annotations

import html
import math
from dataclasses import asdict
from typing import Any

import numpy as np

from quizops.evaluation import svg
from quizops.evaluation.gate import GateConfig, GateDecision
from quizops.evaluation.offpolicy import OffPolicyReport
from quizops.evaluation.ope import ESTIMATORS
from quizops.evaluation.simulation_eval import CHALLENGER, FamilyResult

_TOP_ITEMS = 15
#: Colour of the slices' rows in the differences chart (no policy of their own).
SLICE_COLOR = "#000000"


def _champion_text(decision: GateDecision) -> str:
    """The champion the challenger was compared with, as the report names it."""
    if decision.champion_set_aside:
        version, why = decision.champion_version, decision.champion_set_aside
        return f"none (version {version} set aside: {why})"
    return decision.champion_version or "none"


def figures(families: list[FamilyResult], offpolicy: OffPolicyReport | None,
            config: GateConfig) -> dict[str, str]:  # fmt: skip
    """Every chart of the report, as SVG text keyed by a file stem.

    Args:
        families: Simulation results per family.
        offpolicy: Off-policy results (None when refused).
        config: Gate thresholds (drawn as limits).

    Returns:
        Stem -> SVG.
    """
    out: dict[str, str] = {}
    for fam in families:
        out[f"curves_{fam.family}"] = svg.line_chart(
            [
                svg.Series(
                    name, run.curve.tolist(), run.curve_low.tolist(), run.curve_high.tolist()
                )
                for name, run in fam.runs.items()
            ],
            title=f"Learning curves, {fam.family} simulator ({fam.students} students each, "
            "95% bands)",
            xlabel="items answered",
            ylabel="skills mastered (mean)",
        )
        out[f"mastered_{fam.family}"] = svg.interval_chart(
            [
                (n, r.mastered.estimate, r.mastered.low, r.mastered.high)
                for n, r in fam.runs.items()
            ],
            title=f"Skills mastered at the end, {fam.family} simulator (95% intervals)",
            xlabel="skills mastered",
        )
        # Each difference in the colour of the policy it is taken against (as in the curves
        # and the intervals above); the slices in SLICE_COLOR.
        color = {n: svg.PALETTE[k % len(svg.PALETTE)] for k, n in enumerate(fam.runs)}
        diffs = [(f"vs {n}", d.estimate, d.low, d.high) for n, d in fam.differences.items()]
        colors = [color.get(n, SLICE_COLOR) for n in fam.differences]
        diffs += [(f"slice {n} vs {fam.reference}", d.estimate, d.low, d.high)
                  for n, d in fam.slices.items()]  # fmt: skip
        colors += [SLICE_COLOR] * len(fam.slices)
        out[f"differences_{fam.family}"] = svg.interval_chart(
            diffs,
            title=f"Challenger minus each policy, paired, {fam.family} simulator",
            xlabel="difference in skills mastered",
            reference=0.0,
            colors=colors,
        )
        share = fam.runs[CHALLENGER].item_share
        top = np.argsort(share)[::-1][:_TOP_ITEMS]
        out[f"exposure_{fam.family}"] = svg.bar_chart(
            [fam.item_ids[i] for i in top],
            [float(share[i]) for i in top],
            title=f"Challenger's item exposure, {fam.family} simulator (top {len(top)} items)",
            xlabel="share of decisions (red: largest allowed)",
            limit=config.max_item_share,
        )
    if offpolicy is not None:
        rows = []
        for target, result in offpolicy.results.items():
            for name in ESTIMATORS:
                if name == "logged" and target != CHALLENGER:
                    continue
                i = result.intervals[name]
                label = "logging policy (logged)" if name == "logged" else f"{target} {name}"
                rows.append((label, i.estimate, i.low, i.high))
        out["ope_estimators"] = svg.interval_chart(
            rows,
            title=f"Off-policy value on {offpolicy.students} held-out students (95% intervals, "
            f"{offpolicy.propensity_source} propensities)",
            xlabel="reward per decision (learning credit: expected skills the answer taught)",
        )
        diff = offpolicy.differences.get(CHALLENGER, {})
        out["ope_differences"] = svg.interval_chart(
            [(name, d.estimate, d.low, d.high) for name, d in diff.items() if name != "logged"],
            title=f"Challenger minus {offpolicy.reference}, paired (95% intervals)",
            xlabel="difference in reward per decision",
            reference=0.0,
        )
    return out


def metrics(decision: GateDecision, families: list[FamilyResult],
            offpolicy: OffPolicyReport | None) -> dict[str, float]:  # fmt: skip
    """Flat numeric metrics for KFP and MLflow.

    Args:
        decision: The gate's decision.
        families: Simulation results.
        offpolicy: Off-policy results.

    Returns:
        Name -> value (finite values only).
    """
    out: dict[str, float] = {"blessed": float(decision.blessed)}
    if decision.champion_version.isdigit():
        out["champion_version"] = float(decision.champion_version)
        out["champion_set_aside"] = float(bool(decision.champion_set_aside))
    for check in decision.checks:
        out[f"check_{_key(check.name)}"] = float(check.passed)
    for fam in families:
        for name, run in fam.runs.items():
            k = f"sim_{fam.family}_{_key(name)}"
            out[f"{k}_mastered"] = run.mastered.estimate
            out[f"{k}_mastered_low"] = run.mastered.low
            out[f"{k}_mastered_high"] = run.mastered.high
        for name, d in fam.differences.items():
            k = f"sim_{fam.family}_diff_{_key(name)}"
            out[k], out[f"{k}_low"], out[f"{k}_high"] = d.estimate, d.low, d.high
        for name, d in fam.slices.items():
            k = f"sim_{fam.family}_slice_{_key(name)}"
            out[k], out[f"{k}_low"], out[f"{k}_high"] = d.estimate, d.low, d.high
        out[f"sim_{fam.family}_max_item_share"] = fam.challenger_max_item_share
        for name, value in fam.validation.items():
            out[f"sim_{fam.family}_fit_{_key(name)}"] = value
    if offpolicy is not None:
        for target, result in offpolicy.results.items():
            for name, i in result.intervals.items():
                k = f"ope_{_key(target)}_{name}"
                out[k], out[f"{k}_low"], out[f"{k}_high"] = i.estimate, i.low, i.high
        for target, ov in offpolicy.overlap.items():
            out[f"ope_{_key(target)}_effective_sample"] = ov.effective_sample
            out[f"ope_{_key(target)}_max_weight"] = ov.max_weight
            out[f"ope_{_key(target)}_support"] = ov.support
        for name, d in offpolicy.differences.get(CHALLENGER, {}).items():
            k = f"ope_diff_{name}"
            out[k], out[f"{k}_low"], out[f"{k}_high"] = d.estimate, d.low, d.high
        out["ope_heldout_decisions"] = float(offpolicy.decisions)
        out["ope_heldout_students"] = float(offpolicy.students)
        out["ope_exact_propensity_decisions"] = float(offpolicy.exact_decisions)
        out["ope_estimated_propensity_decisions"] = float(offpolicy.estimated_decisions)
        out["behaviour_rounds"] = float(offpolicy.calibration.rounds)
        out["behaviour_class_weight_balance"] = offpolicy.calibration.class_weight_balance
        out["behaviour_temperature"] = offpolicy.calibration.temperature
        out["behaviour_exploration_share"] = offpolicy.calibration.exploration_share
        out["behaviour_ece"] = offpolicy.calibration.expected_calibration_error
        for name, value in offpolicy.propensity_check.items():
            out[f"behaviour_vs_logged_{name}"] = value
    return {k: float(v) for k, v in out.items() if isinstance(v, int | float) and math.isfinite(v)}


def propensity_text(offpolicy: OffPolicyReport) -> str:
    """One sentence: where the logging propensities came from, with the counts.

    Args:
        offpolicy: Off-policy results.

    Returns:
        Plain text (no markup).
    """
    exact, estimated = offpolicy.exact_decisions, offpolicy.estimated_decisions
    rule = {
        "logged": "every decision carries its exact logged propensity",
        "estimated": "no decision carries a logged propensity: all come from the behaviour model",
        "mixed": (
            "exact logged propensity where the decision carries one (answers to served "
            "decisions), the behaviour model's estimate elsewhere (per decision, one estimate)"
        ),
    }[offpolicy.propensity_source]
    source = offpolicy.propensity_source
    return f"propensities {source}: {rule}; exact {exact}, estimated {estimated}"


def _key(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")


def _interval_text(i: Any) -> str:
    return f"{i.estimate:.4f} [{i.low:.4f}, {i.high:.4f}]"


def markdown(decision: GateDecision, families: list[FamilyResult],
             offpolicy: OffPolicyReport | None, challenger_version: str) -> str:  # fmt: skip
    """The Markdown summary (the decision and the numbers behind it).

    Args:
        decision: The decision.
        families: Simulation results.
        offpolicy: Off-policy results.
        challenger_version: The challenger's registered version.

    Returns:
        Markdown text.
    """
    verdict = "BLESSED" if decision.blessed else "NOT BLESSED"
    lines = [
        f"# Evaluation of challenger version {challenger_version or '(unregistered)'}: {verdict}",
        "",
        f"Champion compared with: {_champion_text(decision)}.",
        "",
        "| check | result | numbers |",
        "|---|---|---|",
    ]
    for c in decision.checks:
        detail = c.detail + (f" (warning: {c.warning})" if c.warning else "")
        result = "**FAIL**" if c.result == "FAIL" else c.result
        lines.append(f"| {c.name} | {result} | {detail} |")
    for fam in families:
        lines += [
            "",
            f"## {fam.family} simulator: skills mastered after the session ({fam.students} "
            "students, paired)",
            "",
            "| policy | mastered [95%] | challenger minus it [95%] |",
            "|---|---|---|",
        ]
        for name, run in fam.runs.items():
            diff = fam.differences.get(name)
            lines.append(
                f"| {name} | {_interval_text(run.mastered)} | "
                f"{_interval_text(diff) if diff else '-'} |"
            )
    if offpolicy is not None:
        lines += [
            "",
            f"## Off-policy evaluation ({offpolicy.decisions} decisions of {offpolicy.students} "
            f"held-out students, {offpolicy.propensity_source} propensities)",
            "",
            propensity_text(offpolicy) + ".",
            "",
            *[f"- {note}." for note in offpolicy.notes],
            *([""] if offpolicy.notes else []),
            "| estimator | " + " | ".join(offpolicy.results) + " |",
            "|---|" + "---|" * len(offpolicy.results),
        ]
        for name in ESTIMATORS:
            cells = [_interval_text(r.intervals[name]) for r in offpolicy.results.values()]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _table(rows: list[tuple[Any, ...]], header: tuple[str, ...]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else "n/a"
    return str(value)


def render_html(decision: GateDecision, families: list[FamilyResult],
                offpolicy: OffPolicyReport | None, config: GateConfig,
                challenger_version: str, charts: dict[str, str],
                numbers: dict[str, float]) -> str:  # fmt: skip
    """The self-contained HTML report (the KFP UI shows it; no network access needed).

    Args:
        decision: The decision.
        families: Simulation results.
        offpolicy: Off-policy results.
        config: The gate's settings.
        challenger_version: The challenger's registered version.
        charts: Output of :func:`figures`.
        numbers: Output of :func:`metrics`.

    Returns:
        The HTML page.
    """
    verdict = "BLESSED" if decision.blessed else "NOT BLESSED"
    colour = "#2ca02c" if decision.blessed else "#d62728"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<title>quiz policy evaluation</title><style>",
        "body{font-family:sans-serif;margin:1.5em;max-width:1100px}",
        "table{border-collapse:collapse;margin:.5em 0}td,th{padding:3px 10px;text-align:left}",
        "tr:nth-child(even){background:#f4f4f4}th{background:#e8e8e8}",
        ".pass{color:#2ca02c}.fail{color:#d62728;font-weight:bold}.info{color:#777}",
        "figure{margin:.6em 0}",
        "</style></head><body>",
        f"<h1>Challenger version {html.escape(challenger_version or '(unregistered)')}: "
        f"<span style='color:{colour}'>{verdict}</span></h1>",
        f"<p>Champion compared with: <b>{html.escape(_champion_text(decision))}</b>. "
        "Promotion refuses if the champion has changed since (compare and set).</p>",
        "<h2>Decision</h2><table><thead><tr><th>check</th><th>result</th><th>numbers</th>"
        "</tr></thead><tbody>",
    ]
    for c in decision.checks:
        css = {"pass": "pass", "FAIL": "fail"}.get(c.result, "info")
        warning = f" <i>(warning: {html.escape(c.warning)})</i>" if c.warning else ""
        parts.append(
            f"<tr><td>{html.escape(c.name)}</td><td class='{css}'>"
            f"{c.result}</td><td>{html.escape(c.detail)}{warning}</td></tr>"
        )
    parts.append("</tbody></table>")
    for fam in families:
        parts.append(f"<h2>Simulation in the fitted {html.escape(fam.family)} simulator</h2>")
        parts.append(
            f"<p>{fam.students} simulated students per policy, the same students and random "
            f"draws for every policy (paired). Reference: <b>{html.escape(fam.reference)}</b>.</p>"
        )
        if fam.validation:
            parts.append(
                "<p>How well this simulator predicts held-out students' answers: "
                + ", ".join(f"{html.escape(k)} {v:.4f}" for k, v in fam.validation.items())
                + ".</p>"
            )
        for stem in ("curves", "mastered", "differences", "exposure"):
            parts.append(f"<figure>{charts[f'{stem}_{fam.family}']}</figure>")
        rows = [
            (name, run.mastered.estimate, run.mastered.low, run.mastered.high)
            + (
                (fam.differences[name].estimate, fam.differences[name].low,
                 fam.differences[name].high)
                if name in fam.differences else (float("nan"),) * 3
            )
            for name, run in fam.runs.items()
        ]  # fmt: skip
        parts.append(
            _table(
                rows,
                ("policy", "mastered", "low", "high", "challenger minus", "low", "high"),
            )
        )
        parts.append(
            _table(
                [(n, fam.slice_sizes[n], d.estimate, d.low, d.high) for n, d in fam.slices.items()],
                ("slice (prior mastery)", "students", "challenger minus reference", "low", "high"),
            )
        )
    if offpolicy is not None:
        parts.append("<h2>Off-policy evaluation on held-out students</h2>")
        parts.append(
            f"<p>{offpolicy.decisions} decisions of {offpolicy.students} students held out from "
            f"the behaviour and reward models (split by student); "
            f"<b>{html.escape(propensity_text(offpolicy))}</b>; reference: "
            f"<b>{html.escape(offpolicy.reference)}</b>; weights clipped at "
            f"{config.clip_weight:g} for clipped IPS and switch-DR.</p>"
        )
        if offpolicy.notes:
            parts.append(
                "<ul>" + "".join(f"<li>{html.escape(n)}.</li>" for n in offpolicy.notes) + "</ul>"
            )
        parts.append(f"<figure>{charts['ope_estimators']}</figure>")
        parts.append(f"<figure>{charts['ope_differences']}</figure>")
        parts.append(
            _table(
                [
                    (
                        t,
                        o.effective_sample,
                        o.effective_share,
                        o.max_weight,
                        o.top1_weight_share,
                        o.support,
                    )
                    for t, o in offpolicy.overlap.items()
                ],
                (
                    "policy",
                    "effective sample",
                    "share",
                    "largest weight",
                    "top 1% weight share",
                    "support",
                ),
            )
        )
        cal = offpolicy.calibration
        parts.append(
            "<h3>Behaviour model</h3>"
            + _table(
                [
                    ("temperature", cal.temperature),
                    (
                        "log loss before / after",
                        f"{cal.log_loss_before:.4f} / {cal.log_loss_after:.4f}",
                    ),
                    ("expected calibration error", cal.expected_calibration_error),
                    ("calibration decisions", cal.decisions),
                    ("boosting rounds (early stopping by student)", cal.rounds),
                    ("class weight balance (1 = unbiased weights)", cal.class_weight_balance),
                    ("exploration share (uniform over items, fitted)", cal.exploration_share),
                ]
                + [(f"vs logged: {k}", v) for k, v in offpolicy.propensity_check.items()],
                ("figure", "value"),
            )
        )
        parts.append(
            "<h4>Reliability on the calibration students (every class probability)</h4>"
            + _table(list(cal.reliability), ("mean predicted", "observed frequency", "count"))
        )
    parts.append("<h2>Settings</h2>")
    parts.append(_table(list(asdict(config).items()), ("setting", "value")))
    parts.append("<h2>Every number</h2>")
    parts.append(_table(sorted(numbers.items()), ("metric", "value")))
    parts.append("</body></html>")
    return "".join(parts)
