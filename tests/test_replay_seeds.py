"""Replaying the five seed articles in the order they appeared gives the annotated announcements."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from shared import shared_path

from monitor.config import Config
from monitor.models import ANNOUNCED_TYPES

SEEDS = shared_path("seeds")

pytestmark = pytest.mark.skipif(not (SEEDS / "expected.json").is_file(),
                                reason=f"seed articles not found at {SEEDS}")


@pytest.fixture(scope="module")
def steps() -> dict[str, dict[str, Any]]:
    from monitor.pipeline import replay

    expected = json.loads((SEEDS / "expected.json").read_text(encoding="utf-8"))
    order = expected["replay"]["order"]
    out = list(replay([str(SEEDS / "articles" / name) for name in order], Config()))
    assert [Path(d["doc"]).name for d in out] == order
    return {Path(d["doc"]).name: d for d in out}


def announced(step: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["type"], (e["fact"] or {}).get("kind")) for e in step["events"] if e["type"] in ANNOUNCED_TYPES]


def events(step: dict[str, Any], type_: str, kind: str | None = None) -> list[dict[str, Any]]:
    return [e for e in step["events"] if e["type"] == type_ and (kind is None or (e["fact"] or {}).get("kind") == kind)]


def test_every_seed_is_relevant_and_its_own_story(steps: dict[str, dict[str, Any]]) -> None:
    assert all(d["relevant"] for d in steps.values())
    assert all(d["duplicate_of"] is None for d in steps.values())
    assert len({d["cluster"] for d in steps.values()}) == 5


def test_step1_capex_is_a_new_figure(steps: dict[str, dict[str, Any]]) -> None:
    step = steps["003_59593dcd7e2c6de0.txt"]
    assert announced(step) == [("new_figure", "capex")]
    fact = step["events"][0]["fact"]
    assert (fact["subject"], fact["period"]) == ("Kuaishou", "2026")
    assert fact["value_usd"] == pytest.approx(3.6e9, rel=0.01)
    assert step["events"][0]["message"].startswith("New figure: Kuaishou capex for 2026 about $3.6B")


def test_step2_milestone_is_a_low_priority_product_move(steps: dict[str, dict[str, Any]]) -> None:
    step = steps["004_98ccf243764332da.txt"]
    assert announced(step) == [("product_move", "product_move")]
    assert step["events"][0]["fact"]["move"] == "milestone"


def test_step3_round_valuation_and_investors_are_new(steps: dict[str, dict[str, Any]]) -> None:
    step = steps["001_011a1fc38f343a2c.txt"]
    assert announced(step) == [("new_figure", "round_size"), ("new_figure", "valuation"),
                               ("new_investor", "investor")]
    round_ev, valuation, investors = step["events"]
    # one event for the round: about $2B, up to $3B
    values = {round_ev["fact"]["value_usd"], round_ev["fact"].get("range_high")}
    values |= {p["value_usd"] for p in round_ev["fact"].get("parts", [])}
    assert {2e9, 3e9} <= values
    assert "$2B" in round_ev["message"] and "$3B" in round_ev["message"]
    assert valuation["fact"]["value_usd"] == pytest.approx(1.8e10)
    assert investors["fact"]["names"] == ["Alibaba", "Tencent"]


def test_step4_filing_corroborates_and_sets_status(steps: dict[str, dict[str, Any]]) -> None:
    step = steps["000_13f4a19439988d75.txt"]
    assert events(step, "new_figure") == [] and events(step, "revised_figure") == []
    [corr] = events(step, "corroborated", "round_size")
    assert corr["fact"]["value_usd"] == pytest.approx(3e9) and corr["fact"]["stage"] == "filed"
    [status] = events(step, "status")
    assert status["fact"]["stage"] == "filed"
    # the annotated integration move is a product move of this article; nothing else is announced
    assert announced(step) == [("product_move", "product_move"), ("status", "status")]


def test_step5_closing_revises_round_adds_investors_and_flags_valuation(steps: dict[str, dict[str, Any]]) -> None:
    step = steps["002_561ecc094bab7a41.txt"]
    assert announced(step) == [("revised_figure", "round_size"), ("conflict", "valuation"),
                               ("new_investor", "investor")]
    assert events(step, "revised_figure", "valuation") == [] and events(step, "new_figure") == []
    [rev] = events(step, "revised_figure", "round_size")
    assert rev["fact"]["stage"] == "closed"
    # "reported" while the extractor reads step 3 as a report; "planned" once it reads "in talks" as a plan
    assert rev["message"].startswith(("Revised: Kling round size ~$3B closed (was $2B–$3B reported",
                                      "Revised: Kling round closed at ~$3B (was $2B–$3B, planned)"))
    [conflict] = events(step, "conflict", "valuation")
    assert conflict["fact"]["value_usd"] == pytest.approx(1.8e11)
    assert "vs $18B" in conflict["message"]
    assert "~$18B implied by $3B for 16.67%" in conflict["message"]
    assert conflict["message"].endswith("flagged, not a tenfold rise")
    [inv] = events(step, "new_investor")
    assert {"Baidu", "Alibaba Cloud", "CPE", "Guofang Ventures", "BlueFive", "Zhongguancun Science City Fund",
            "Guoke Investment", "CITIC Securities", "Huace Film & TV", "Houwei Capital"} <= set(inv["fact"]["names"])
    assert "Tencent" not in inv["fact"]["names"]  # already known from step 3: a corroboration
    assert [e["fact"]["names"] for e in events(step, "corroborated", "investor")] == [["Tencent"]]


def test_replay_of_the_seeds_is_deterministic(steps: dict[str, dict[str, Any]]) -> None:
    from monitor.pipeline import replay

    order = json.loads((SEEDS / "expected.json").read_text(encoding="utf-8"))["replay"]["order"]
    again = list(replay([str(SEEDS / "articles" / name) for name in order], Config()))
    assert json.dumps(again, sort_keys=True) == json.dumps([steps[n] for n in order], sort_keys=True)


def test_the_readme_example_is_what_replay_prints(steps: dict[str, dict[str, Any]]) -> None:
    from monitor.render import format_replay

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = readme.split("What `kling-monitor replay` prints for the seed stories", 1)[1]
    block = block.split("```text\n", 1)[1].split("```", 1)[0].rstrip("\n")
    order = json.loads((SEEDS / "expected.json").read_text(encoding="utf-8"))["replay"]["order"]
    printed = "\n".join(format_replay(steps[name]) for name in order)
    assert block == printed, f"update the README block to:\n{printed}"
