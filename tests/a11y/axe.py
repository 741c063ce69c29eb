"""The accessibility audit of browser tests: axe-core (tests/vendor/axe-core, MPL-2.0) run in the page.

Any browser test can call it on the page it is showing::

    from tests.a11y.axe import assert_accessible
    assert_accessible(page)                      # the whole page
    assert_accessible(page, "#restore-dialog")   # one part of it, e.g. an open wizard

It fails on every serious or critical violation of WCAG 2.1 A/AA and axe's best practices, naming the rule, its
help page and the elements that break it; minor and moderate findings are left to review.
"""

from __future__ import annotations

import json
from pathlib import Path

AXE_SCRIPT = Path(__file__).resolve().parent.parent / "vendor" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
FAILING = ("serious", "critical")


def axe_violations(page, include: str | None = None) -> list[dict]:
    """axe's violations on ``page`` (or in the elements matching ``include``), every impact."""
    # Colours are read mid-slide otherwise (the drawer's columns fade in); endless ones (spinners) never settle.
    page.wait_for_function(
        "() => document.getAnimations().every((a) => a.playState !== 'running'"
        " || a.effect.getComputedTiming().iterations === Infinity)")
    if not page.evaluate("() => Boolean(window.axe)"):
        page.add_script_tag(path=str(AXE_SCRIPT))
    return page.evaluate(
        """([include, tags]) => axe.run(include ? { include: [include] } : document,
                                       { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] })
                                 .then((r) => r.violations)""",
        [include, TAGS],
    )


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:8]:
            lines.append(f"    {json.dumps(node['target'])}: {node.get('failureSummary', '').splitlines()[-1:]}")
    return "\n".join(lines)


def assert_accessible(page, include: str | None = None) -> list[dict]:
    """Fail on serious and critical violations; return the lesser ones for the caller to look at."""
    violations = axe_violations(page, include)
    failing = [v for v in violations if v["impact"] in FAILING]
    assert not failing, f"axe found {len(failing)} serious or critical problem(s) on {page.url}:\n{describe(failing)}"
    return violations
