"""What records keep of a program's output (evolve's verdicts and eval's results alike)."""

from __future__ import annotations

from wizardcoder.execution import output_tail


def test_output_tail_keeps_the_end_and_hides_the_markers():
    out = "x" * 50 + "\nWIZARDCODER-PASS-abc\nWIZARDCODER-STARTED-def\n"
    assert output_tail(out, 0) == ""
    assert output_tail("short", 10) == "short"
    assert output_tail("0123456789", 4) == "...6789"
    hidden = output_tail(out, 30, {"WIZARDCODER-PASS-abc": "", "WIZARDCODER-STARTED-def": "", None: "?"})
    assert "WIZARDCODER" not in hidden and hidden.startswith("...") and hidden.endswith("x\n\n\n")
    assert output_tail(out, 100, {"WIZARDCODER-PASS-abc": "<success marker>"}).count("<success marker>") == 1
