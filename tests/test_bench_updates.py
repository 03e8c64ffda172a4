"""The updates benchmark runs end to end (quick sizes, SQLite) and every update it sends is answered.

Completeness only: the figures are never judged here (no timed tests). The script itself checks
that each reply is the right one and that the intake's requests are in the database; a failed
check ends it with an AssertionError or a non-zero exit.
"""
from __future__ import annotations

import re

from bench import updates

ANSWERED = re.compile(r"^([\d,]+)/([\d,]+)$")


def rows_of(output: str) -> list[dict[str, str]]:
    """The printed results table (markdown), as dicts keyed by its header."""
    lines = [line for line in output.splitlines() if line.startswith("| ") and not set(line) <= set("|-: ")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    return [dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")))) for line in lines[1:]]


async def test_quick_run_answers_every_update_of_every_scenario(capsys) -> None:
    code = await updates.main(["--quick", "--backend", "sqlite"])
    output = capsys.readouterr().out

    assert code == 0, output
    rows = rows_of(output)
    seen = {(row["scenario"], row["backend"], "throughput" if row["load"] == "throughput" else "paced") for row in rows}
    for scenario in (updates.Echo.title,):
        assert {(scenario, "—", "throughput"), (scenario, "—", "paced")} <= seen
    assert any("30/s limiter as deployed" in row["load"] for row in rows)
    for scenario in (updates.Status.title, updates.Intake.title):
        assert {(scenario, "SQLite", "throughput"), (scenario, "SQLite", "paced")} <= seen
    for row in rows:
        answered, sent = ANSWERED.match(row["updates answered"]).groups()
        assert answered == sent and int(sent.replace(",", "")) > 0, row
    intake = [row for row in rows if row["scenario"] == updates.Intake.title and row["load"] == "throughput"]
    assert float(intake[0]["dialogs/s"]) > 0  # whole dialogs were completed, not just single steps
    assert "every update answered" in output
    assert "targets (figures, not assertions):" in output
