"""The claim ledger: decision rules, messages, source tiers and idempotent events."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from monitor.config import Config, LedgerConfig, SourcesConfig
from monitor.ledger import Claim, Implied, decide, history, record_extraction
from monitor.models import Document, Event, Extraction, Fact, ProductMove
from monitor.render import format_history, message, why
from monitor.store import Store

CFG = Config(ledger=LedgerConfig(tolerance=0.05, conflict_factor=5.0))


def d(url: str, title: str = "A story") -> Document:
    return Document(source=url, url=url, title=title, text="...")


def ex(*facts: Fact, investors: tuple[str, ...] = (), partners: tuple[str, ...] = (),
       moves: tuple[ProductMove, ...] = (), statuses: tuple[str, ...] = ()) -> Extraction:
    return Extraction(source="t", relevant=True, entities=("Kling", "Kuaishou"), facts=facts, investors=investors,
                      cloud_partners=partners, product_moves=moves, statuses=statuses)


def usd(kind: str, value: float, qualifier: str = "exact", stage: str | None = None, subject: str = "Kling",
        period: str | None = None, high: float | None = None) -> Fact:
    return Fact(kind=kind, subject=subject, value=value, unit="USD", value_usd=value, qualifier=qualifier,
                period=period, stage=stage, range_high=high, quote=f"{kind} {value:g}")


def rec(store: Store, e: Extraction, url: str, cfg: Config = CFG) -> list[Event]:
    with store.atomic():
        return record_extraction(store, e, d(url), assignment=None, cfg=cfg)


def kinds(events: list[Event]) -> list[tuple[str, str | None]]:
    return [(e.type, e.kind) for e in events]


def test_first_claim_is_a_new_figure_and_two_currencies_are_one_claim() -> None:
    store = Store()
    capex_usd = Fact(kind="capex", subject="Kuaishou", value=3.6e9, unit="USD", value_usd=3.6e9, qualifier="approx",
                     period="2026", quote="about $3.6 billion (roughly RMB 26 billion)")
    capex_cny = Fact(kind="capex", subject="Kuaishou", value=2.6e10, unit="CNY", value_usd=3.6e9, qualifier="approx",
                     period="2026", quote="roughly RMB 26 billion")
    events = rec(store, ex(capex_usd, capex_cny), "https://pandaily.com/kuaishou-capex")
    assert [message(e) for e in events] == [
        "New figure: Kuaishou capex for 2026 about $3.6B (≈ RMB 26B) — source: pandaily.com"]
    ev = events[0]
    assert (ev.type, ev.severity, ev.thread_key) == ("new_figure", 3, "Kuaishou:capex:2026")
    assert ev.fact is not None and ev.fact["value_usd"] == 3.6e9 and ev.fact["alt_unit"] == "CNY"
    rows = store.group_claims("Kuaishou", "capex", "2026")
    assert len(rows) == 1
    assert (rows[0]["value"], rows[0]["unit"], rows[0]["alt_value"], rows[0]["alt_unit"]) == (3.6e9, "USD", 2.6e10, "CNY")


def test_consistent_claim_corroborates_with_a_source_count() -> None:
    store = Store()
    rec(store, ex(usd("capex", 3.6e9, "approx", subject="Kuaishou", period="2026")), "https://pandaily.com/a")
    events = rec(store, ex(usd("capex", 3.62e9, subject="Kuaishou", period="2026")), "https://technode.com/b")
    assert kinds(events) == [("corroborated", "capex")]
    assert events[0].severity == 1
    assert message(events[0]).endswith("— 2 sources")
    assert events[0].thread_key == "Kuaishou:capex:2026"


def test_moved_figure_and_stage_is_a_revision_with_delta() -> None:
    store = Store()
    rec(store, ex(usd("round_size", 2e9, "approx")), "https://bloomberg.com/kling")
    events = rec(store, ex(usd("round_size", 2.8e9, "approx", stage="committed")), "https://36kr.com/kling")
    assert [message(e) for e in events] == [
        "Revised: Kling round size ~$2.8B committed (was ~$2B reported, +40%) — source: 36kr.com"]
    assert events[0].previous is not None and events[0].previous["value"] == 2e9


def test_stage_move_past_a_filing_revises_but_a_filing_inside_the_bound_corroborates() -> None:
    store = Store()
    rec(store, ex(usd("round_size", 2e9, "approx"), usd("round_size", 3e9, "up_to")), "https://scmp.com/a")
    filed = rec(store, ex(usd("round_size", 3e9, stage="filed"), statuses=("filed",)), "https://x.com/filed")
    assert kinds(filed) == [("corroborated", "round_size"), ("status", "status")]
    assert message(filed[1]) == "Status: Kling round filed — source: x.com"
    closed = rec(store, ex(usd("round_size", 2.8e9, "approx", stage="closed"), statuses=("signed", "closed")),
                 "https://y.com/closed")
    # the revision carries the stage: no separate status event
    assert kinds(closed) == [("revised_figure", "round_size")]
    assert message(closed[0]).startswith("Revised: Kling round size ~$2.8B closed (was ~$2B reported, +40%)")


def test_conflict_by_factor_is_flagged_not_a_tenfold_rise() -> None:
    store = Store()
    rec(store, ex(usd("valuation", 1.8e10)), "https://bloomberg.com/v")
    events = rec(store, ex(usd("valuation", 1.8e11, "approx")), "https://nashnova.com/v")
    assert kinds(events) == [("conflict", "valuation")]
    assert message(events[0]) == ("Conflict: Kling valuation ~$180B (nashnova.com) vs $18B (bloomberg.com)"
                                 " — flagged, not a tenfold rise")
    # one ordinary source behind an implausible jump: low severity (thread and digest), not broadcast
    assert (events[0].severity, events[0].detail["weight"]) == (1, "low")
    assert "a single ordinary source so far" in why(events[0])
    assert set(events[0].sources) >= {"https://nashnova.com/v", "https://bloomberg.com/v"}
    # the conflicting claim does not become the consensus: $18B again corroborates
    again = rec(store, ex(usd("valuation", 1.8e10)), "https://reuters.com/v")
    assert kinds(again) == [("corroborated", "valuation")]
    # a second outlet repeating $180B makes it a full alert that names both
    second = rec(store, ex(usd("valuation", 1.8e11, "approx")), "https://other.example/v")
    assert kinds(second) == [("conflict", "valuation")]
    assert (second[0].severity, second[0].detail["weight"]) == (3, "full")
    assert message(second[0]).startswith("Conflict: Kling valuation ~$180B (other.example, nashnova.com) vs $18B")
    assert "repeated by nashnova.com" in why(second[0])


def test_a_major_source_makes_a_conflict_a_full_alert_and_says_since_when() -> None:
    cfg = Config(sources=SourcesConfig(major=("reuters.com",)))
    store = Store()
    first = Document(source="a", url="https://a.example/v", title="t", text="...",
                     published=datetime(2026, 3, 2, tzinfo=UTC))
    with store.atomic():
        record_extraction(store, ex(usd("valuation", 1.8e10)), first, assignment=None, cfg=cfg)
    later = Document(source="b", url="https://www.reuters.com/v", title="t", text="...",
                     published=datetime(2026, 3, 9, tzinfo=UTC))
    with store.atomic():
        events = record_extraction(store, ex(usd("valuation", 1.2e11)), later, assignment=None, cfg=cfg)
    assert kinds(events) == [("conflict", "valuation")] and events[0].severity == 3
    assert message(events[0]) == ("Conflict: Kling valuation $120B (reuters.com) vs $18B (a.example since "
                                  "2026-03-02) — flagged, not a 6.7x rise")


def test_conflict_with_the_implied_valuation() -> None:
    store = Store()
    stake = Fact(kind="stake", subject="Kling", value=16.67, unit="percent", quote="16.67%")
    events = rec(store, ex(usd("round_size", 3e9, "up_to"), stake, usd("valuation", 1.8e11, "approx")),
                 "https://nashnova.com/round")
    assert kinds(events) == [("new_figure", "round_size"), ("conflict", "valuation")]
    # one alert says one thing: the stake is a term of the round, not a second figure in its message
    assert message(events[0]) == "New figure: Kling round size up to $3B — source: nashnova.com"
    assert message(events[1]) == ("Conflict: Kling valuation ~$180B (nashnova.com) vs ~$18B implied by $3B for 16.67%"
                                 " — flagged, not a tenfold rise")


def test_decide_is_a_pure_function_of_the_claim_and_its_group() -> None:
    def c(value: float, unit: str = "USD", qualifier: str = "exact", doc: str = "new", **kw: object) -> Claim:
        return Claim(subject="Kling", kind="round_size", value=value, unit=unit, qualifier=qualifier, doc=doc,
                     value_usd=value if unit == "USD" else kw.pop("value_usd", None), **kw)  # type: ignore[arg-type]

    rules = {"tolerance": 0.05, "conflict_factor": 5.0}
    assert decide(c(2e9), [], **rules).type == "new_figure"
    assert decide(c(2.9e9), [c(3e9, qualifier="up_to", doc="a")], **rules).type == "corroborated"
    assert decide(c(2.5e9), [c(2e9, qualifier="range", doc="a", range_high=3e9)], **rules).type == "corroborated"
    # a CNY claim with its USD value compares in USD
    assert decide(c(1.38e10, "CNY", value_usd=2.028e9), [c(2e9, doc="a")], **rules).type == "corroborated"
    # no USD on either side and different units: not comparable, so a first figure in that unit
    assert decide(c(1.0e10, "CNY"), [c(1.0e10, "HKD", doc="a")], **rules).type == "new_figure"
    assert decide(c(1.0e10, "CNY"), [c(1.2e10, "CNY", doc="a")], **rules).type == "revised_figure"
    implied = Implied(value=1.8e10, round_usd=3e9, stake=16.67)
    assert decide(c(1.8e11), [], implied=implied, **rules).type == "conflict"
    assert decide(c(1.9e10), [], implied=implied, **rules).type == "new_figure"


def test_primary_source_settles_a_figure() -> None:
    cfg = Config(sources=SourcesConfig(primary=("hkexnews.hk",), major=("bloomberg.com",)))
    store = Store()
    rec(store, ex(usd("round_size", 2e9, "approx")), "https://blog.example/a", cfg)
    primary = rec(store, ex(usd("round_size", 2.8e9, stage="filed")), "https://www1.hkexnews.hk/filing.pdf", cfg)
    assert kinds(primary) == [("revised_figure", "round_size")]
    assert primary[0].fact is not None and primary[0].fact["tier"] == "primary"
    # a later major-outlet report disagreeing with the primary filing is a conflict, not a revision
    later = rec(store, ex(usd("round_size", 2.2e9, "approx")), "https://www.bloomberg.com/k", cfg)
    assert kinds(later) == [("conflict", "round_size")]
    assert "primary source settled it" in why(later[0])
    agree = rec(store, ex(usd("round_size", 2.8e9, "approx")), "https://other.example/k", cfg)
    assert kinds(agree) == [("corroborated", "round_size")]
    assert [r["tier"] for r in history(store, "Kling", "round_size")] == ["other", "primary", "major", "other"]


def test_event_keys_are_idempotent() -> None:
    store = Store()
    e = ex(usd("valuation", 1.8e10), investors=("Alibaba", "Tencent"))
    first = rec(store, e, "https://bloomberg.com/v")
    assert kinds(first) == [("new_figure", "valuation"), ("new_investor", "investor")]
    n_claims = len(history(store))
    assert rec(store, e, "https://bloomberg.com/v") == []
    assert store.count_events() == 2 and len(history(store)) == n_claims
    assert len({ev.key for ev in first}) == 2


def test_investors_partners_and_product_moves() -> None:
    store = Store()
    first = rec(store, ex(investors=("Alibaba", "Tencent")), "https://a.com/1")
    assert [message(e) for e in first] == ["New investors: Kling — Alibaba, Tencent — source: a.com"]
    assert first[0].severity == 2 and first[0].fact == {"kind": "investor", "subject": "Kling",
                                                        "names": ["Alibaba", "Tencent"]}
    second = rec(store, ex(investors=("Tencent", "Alibaba Cloud", "Baidu"), partners=("Volcano Engine",)),
                 "https://b.com/2")
    assert kinds(second) == [("new_investor", "investor"), ("corroborated", "investor"),
                             ("cloud_partnership", "cloud_partner")]
    assert second[0].fact is not None and second[0].fact["names"] == ["Alibaba Cloud", "Baidu"]
    move = ProductMove(kind="model_launch", what="Kling 3.0 video model launched for all users", quote="Kling 3.0 ...")
    m1 = rec(store, ex(moves=(move,)), "https://c.com/3")
    assert kinds(m1) == [("product_move", "product_move")]
    assert message(m1[0]) == ("Product move: Kling model launch — Kling 3.0 video model launched for all users"
                             " — source: c.com")
    same = ProductMove(kind="model_launch", what="Kling 3.0 video model launched to all users", quote="...")
    assert kinds(rec(store, ex(moves=(same,)), "https://d.com/4")) == [("corroborated", "product_move")]
    milestone = ProductMove(kind="milestone", what="Kling reached a major global user milestone", quote="...")
    m3 = rec(store, ex(moves=(milestone,)), "https://e.com/5")
    assert kinds(m3) == [("product_move", "product_move")] and m3[0].severity == 1


def test_speculative_facts_are_kept_but_never_announced() -> None:
    store = Store()
    spec = Fact(kind="round_size", subject="Kling", value=5e9, unit="USD", value_usd=5e9, speculative=True)
    assert rec(store, ex(spec), "https://a.com/s") == []
    assert [r["decision"] for r in history(store)] == ["speculative"]


def test_history_table() -> None:
    store = Store()
    rec(store, ex(usd("round_size", 2e9, "approx")), "https://bloomberg.com/kling")
    rec(store, ex(usd("round_size", 2.8e9, "approx", stage="committed")), "https://36kr.com/kling")
    rows = history(store, subject="kling", kind="round_size")
    assert [(r["outlet"], r["value"], r["stage"], r["decision"]) for r in rows] == [
        ("bloomberg.com", "~$2B", "reported", "new_figure"), ("36kr.com", "~$2.8B", "committed", "revised_figure")]
    text = format_history(rows)
    lines = text.splitlines()
    assert lines[0] == "Kling round size"
    assert lines[1].split() == ["id", "date", "outlet", "tier", "value", "qualifier", "status", "stage", "decision",
                                "quote"]
    assert lines[3].split()[0] == str(rows[1]["id"])
    assert "36kr.com" in lines[3] and "~$2.8B" in lines[3] and "committed" in lines[3]
    assert format_history([]) == "(no claims)"


def test_a_raised_lower_bound_is_a_revision_not_a_corroboration() -> None:
    base = dict(subject="Kling", kind="users", unit="count", qualifier="at_least", stage="reported")
    first = Claim(value=22e6, doc="a", outlet="a.example", **base)  # type: ignore[arg-type]
    again = Claim(value=22.5e6, doc="b", outlet="b.example", **base)  # type: ignore[arg-type]
    higher = Claim(value=45e6, doc="c", outlet="c.example", **base)  # type: ignore[arg-type]
    assert decide(again, [first], tolerance=0.05, conflict_factor=5).type == "corroborated"
    d = decide(higher, [first, again], tolerance=0.05, conflict_factor=5)
    assert (d.type, d.rule) == ("revised_figure", "lower_bound_raised")


def test_unclassified_figures_are_recorded_but_never_announced(tmp_path: Path) -> None:
    from monitor.config import Config
    from monitor.pipeline import process_document

    only_profit = Document(source="x", title="Kuaishou shares", url="https://news.example.com/k",
                           text="Kuaishou said adjusted net profit rose 4.4% to 4.58 billion yuan.")
    doc = Document(source="y", title="Kuaishou results", url="https://news.example.com/r",
                   text="Kuaishou said revenue rose 14% to 35.5 billion yuan in the third quarter of 2025 "
                        "and adjusted net profit rose 4.4% to 4.58 billion yuan.")
    with Store(tmp_path / "m.db") as store:
        assert not process_document(store, only_profit, Config()).relevant  # nothing tracked: not news
        result = process_document(store, doc, Config())
        assert result.relevant
        assert [e.fact["kind"] for e in result.events if e.fact] == ["revenue"]
        assert sorted((r["kind"], r["decision"]) for r in store.query("SELECT kind, decision FROM claims")) == [
            ("other", "recorded"), ("revenue", "new_figure")]


def test_a_round_known_in_yuan_is_corroborated_by_a_dollar_report_that_converts(tmp_path: Path) -> None:
    from monitor.pipeline import process_document

    zh = Document(source="zh", url="https://36kr.example/1", title="可灵AI融资",
                  text="快手旗下可灵AI完成新一轮融资，融资规模约190亿元，另有15名投资者将追加投资约52亿元。")
    en = Document(source="en", url="https://wire.example/2", title="Kling AI raises $2.8 billion",
                  text="Kuaishou's Kling AI has raised about 19 billion yuan ($2.8 billion). "
                       "The second tranche of 5.2 billion yuan is expected to close by September.")
    with Store(tmp_path / "m.db") as store:
        first = process_document(store, zh, Config())
        second = process_document(store, en, Config())
    assert [e.type for e in first.events] == ["new_figure"]
    # the round corroborates (and the tranche too, once the extractor tells it apart as a tranche)
    assert {e.type for e in second.events} == {"corroborated"}
    assert "~RMB 19B (~$2.8B)" in message(second.events[0])


# ------------------------------------------------------------------ identity and status (issue 15)


def fact(kind: str, value: float, *, basis: str | None = None, period: str | None = None, status: str = "reported",
         qualifier: str = "exact", high: float | None = None, stage: str | None = None, unit: str = "USD",
         subject: str = "Kling") -> Fact:
    return Fact(kind=kind, subject=subject, value=value, unit=unit, value_usd=value if unit == "USD" else None,
                qualifier=qualifier, range_high=high, period=period, basis=basis, status=status, stage=stage,
                quote=f"{kind} {value:g}")


def dated(url: str, day: str) -> Document:
    return Document(source=url, url=url, title="t", text="...", published=datetime.fromisoformat(day + "T09:00:00+00:00"))


def recd(store: Store, f: Fact, url: str, day: str | None = None) -> list[Event]:
    with store.atomic():
        return record_extraction(store, ex(f), dated(url, day) if day else d(url), assignment=None, cfg=CFG)


DIFFERENT_CLAIMS = [
    # (first, second): never a revision or a conflict of one another
    (fact("users", 4e8, basis="dau", unit="count"), fact("users", 7e8, basis="mau", unit="count")),
    (fact("revenue", 1e8, basis="arr", period="2025"), fact("revenue", 4e7, basis="quarterly", period="2025")),
    (fact("round_size", 3e9, basis="round"), fact("round_size", 4e8, basis="tranche")),
    (fact("round_size", 3e8, period="2016"), fact("round_size", 5e9, period="2021")),
    (fact("revenue", 1e9, period="2026", status="guidance"), fact("revenue", 6e9, period="2026")),
]


def test_different_identities_and_tracks_are_different_claims() -> None:
    for first, second in DIFFERENT_CLAIMS:
        store = Store()
        assert kinds(recd(store, first, "https://a.example/1")) == [("new_figure", first.kind)]
        assert kinds(recd(store, second, "https://b.example/2")) == [("new_figure", second.kind)], (first, second)


def test_an_unknown_basis_joins_the_one_known_basis_only() -> None:
    store = Store()
    recd(store, fact("round_size", 3e9, basis="round"), "https://a.example/1")
    assert kinds(recd(store, fact("round_size", 3.05e9), "https://b.example/2")) == [("corroborated", "round_size")]
    two = Store()
    recd(two, fact("round_size", 3e9, basis="round"), "https://a.example/1")
    recd(two, fact("round_size", 4e8, basis="tranche"), "https://c.example/3")
    # two bases known: an unknown-basis figure is matched with neither (no conflict with the tranche)
    assert kinds(recd(two, fact("round_size", 4e9), "https://d.example/4")) == [("new_figure", "round_size")]


def test_historical_figures_are_recorded_never_announced() -> None:
    store = Store()
    assert recd(store, fact("round_size", 5e9, period="2021", status="historical"), "https://a.example/1") == []
    assert [(r["decision"], r["status"]) for r in history(store)] == [("historical", "historical")]
    # ... and a later current figure is new, not a revision of the past
    assert kinds(recd(store, fact("round_size", 2e9, period="2021"), "https://b.example/2")) == [
        ("new_figure", "round_size")]


def test_a_planned_round_that_closes_is_announced_as_the_close_never_as_a_conflict() -> None:
    store = Store()
    planned = recd(store, fact("round_size", 2e9, qualifier="range", high=3e9, status="planned"), "https://a.example/1")
    assert message(planned[0]) == "New figure: Kling round size $2B–$3B (planned) — source: a.example"
    closed = recd(store, fact("round_size", 3e9, qualifier="approx", stage="closed"), "https://b.example/2")
    assert [(e.type, e.rule) for e in closed] == [("revised_figure", "planned_closed")]
    assert message(closed[0]) == "Revised: Kling round closed at ~$3B (was $2B–$3B, planned) — source: b.example"
    # a plan ten times off what closed is still the close, not a conflict
    other = Store()
    recd(other, fact("valuation", 1.8e11, status="planned"), "https://a.example/1")
    assert kinds(recd(other, fact("valuation", 1.8e10), "https://b.example/2")) == [("revised_figure", "valuation")]


def test_an_undated_figure_takes_a_period_only_when_the_story_date_leaves_one() -> None:
    store = Store()
    recd(store, fact("revenue", 3.5e9, period="2025-Q3", basis="quarterly"), "https://a.example/1", "2025-11-20")
    same = recd(store, fact("revenue", 3.52e9, basis="quarterly"), "https://b.example/2", "2025-11-21")
    assert kinds(same) == [("corroborated", "revenue")] and same[0].fact["period"] == "2025-Q3"  # type: ignore[index]
    # with the year known too, November 2025 could mean either: the undated figure stays undated
    recd(store, fact("revenue", 1.4e10, period="2025", basis="quarterly"), "https://c.example/3", "2025-11-22")
    alone = recd(store, fact("revenue", 3.6e9, basis="quarterly"), "https://d.example/4", "2025-11-23")
    assert kinds(alone) == [("new_figure", "revenue")] and alone[0].fact["period"] is None  # type: ignore[index]


def test_undated_figures_from_stories_years_apart_are_not_compared() -> None:
    store = Store()
    recd(store, fact("valuation", 2.86e10), "https://a.example/1", "2021-02-05")
    assert kinds(recd(store, fact("valuation", 1.8e11), "https://b.example/2", "2025-06-01")) == [
        ("new_figure", "valuation")]


def test_misreadings_are_kept_but_never_announced() -> None:
    store = Store()
    recd(store, fact("round_size", 2e9), "https://a.example/1")
    assert recd(store, fact("round_size", 89, unit="HKD"), "https://b.example/2") == []  # a share price
    assert recd(store, fact("round_size", 5e13), "https://c.example/3") == []  # 25,000x: a unit slip
    assert [r["decision"] for r in history(store)] == ["new_figure", "implausible", "implausible"]


def test_corroborations_fold_to_one_per_new_outlet() -> None:
    store = Store()
    recd(store, fact("valuation", 1.8e10), "https://a.example/1")
    assert kinds(recd(store, fact("valuation", 1.8e10), "https://b.example/2")) == [("corroborated", "valuation")]
    assert recd(store, fact("valuation", 1.81e10), "https://b.example/3") == []  # b.example said it before
    third = recd(store, fact("valuation", 1.8e10), "https://c.example/4")
    assert third[0].detail["n_sources"] == 3 and len(third[0].sources) <= 3


def test_the_same_figure_in_an_unconvertible_currency_is_not_new() -> None:
    store = Store()
    recd(store, fact("capex", 3.6e9, period="2026"), "https://a.example/1")
    assert recd(store, fact("capex", 2.6e10, period="2026", unit="CNY"), "https://b.example/2") == []


def test_copies_of_a_story_never_re_announce() -> None:
    from monitor.dedupe import StoryAssignment

    store = Store()
    recd(store, fact("valuation", 1.8e10), "https://a.example/1")
    story = StoryAssignment(story_id=2, cluster_id=7, duplicate_of=None, cluster_size=1, is_new=True)
    with store.atomic():
        flag = record_extraction(store, ex(fact("valuation", 1.8e11), investors=("Tencent",)),
                                 d("https://b.example/2"), assignment=story, cfg=CFG)
    assert kinds(flag) == [("conflict", "valuation"), ("new_investor", "investor")]
    copy = StoryAssignment(story_id=3, cluster_id=7, duplicate_of="https://b.example/2", cluster_size=2, is_new=True)
    with store.atomic():
        again = record_extraction(store, ex(fact("valuation", 1.8e11), investors=("Tencent",)),
                                  d("https://b-hant.example/2"), assignment=copy, cfg=CFG)
    assert [e.type for e in again] == ["corroborated"]  # the names, once for the new outlet; no second conflict


def test_a_conflict_is_told_once_per_change_of_its_weight() -> None:
    store = Store()
    recd(store, fact("valuation", 1.8e10), "https://a.example/1")
    assert kinds(recd(store, fact("valuation", 1.8e11), "https://b.example/2")) == [("conflict", "valuation")]
    # the same outlet again (a Traditional-Chinese edition the clustering missed): nothing new to say
    assert recd(store, fact("valuation", 1.8e11), "https://b.example/2-hant") == []
    # a second outlet: the flag becomes a full alert, once
    full = recd(store, fact("valuation", 1.8e11), "https://c.example/3")
    assert [(e.type, e.severity) for e in full] == [("conflict", 3)]
    assert recd(store, fact("valuation", 1.8e11), "https://d.example/4") == []
    assert [r["decision"] for r in history(store)].count("conflict") == 4


def test_a_close_with_its_tranches_committed_total_and_cap_is_one_alert() -> None:
    """The seed story's close, as the extractor will label it: one alert, the terms in it, no conflict."""
    store = Store()
    with store.atomic():
        record_extraction(store, ex(fact("round_size", 2e9, qualifier="range", high=3e9, status="planned")),
                          d("https://scmp.example/1"), assignment=None, cfg=CFG)
    close = ex(fact("round_size", 3e9, basis="round", qualifier="approx", stage="closed"),
               fact("round_size", 1.38e10, basis="tranche", qualifier="approx", unit="CNY"),
               fact("round_size", 5.2e9, basis="tranche", qualifier="approx", unit="CNY"),
               fact("round_size", 2.8e9, basis="committed_total", qualifier="approx"),
               fact("round_size", 2.04471e10, basis="cap", qualifier="up_to", unit="CNY"))
    with store.atomic():
        events = record_extraction(store, close, d("https://pandaily.example/2"), assignment=None, cfg=CFG)
    assert [(e.type, e.rule) for e in events] == [("revised_figure", "planned_closed")]
    assert message(events[0]) == (
        "Revised: Kling round closed at ~$3B (was $2B–$3B, planned); with tranche ~RMB 13.8B, committed total ~$2.8B,"
        " cap up to RMB 20.45B — source: pandaily.example")
    # each term stays a claim of its own identity: a later cap is judged against the cap, not the round
    bases = {r["basis"] for r in history(store) if r["decision"] in ("new_figure", "revised_figure")}
    assert bases == {"round", "tranche", "committed_total", "cap", None}


def test_a_tranche_beside_an_unlabelled_round_is_not_judged_against_the_round() -> None:
    store = Store()
    recd(store, fact("round_size", 3e9), "https://a.example/1")
    with store.atomic():
        events = record_extraction(store, ex(fact("round_size", 3.05e9), fact("round_size", 4e8, basis="tranche")),
                                   d("https://b.example/2"), assignment=None, cfg=CFG)
    # the round corroborates; the tranche is a new claim of its own, told as a term of nothing (no round news)
    assert [(e.type, (e.fact or {}).get("basis")) for e in events] == [("corroborated", None), ("new_figure", "tranche")]


def test_a_rejected_investor_stops_counting_and_the_correction_names_it() -> None:
    from monitor.ledger import review_claim

    store = Store()
    rec(store, ex(investors=("Tencent",)), "https://a.example/1")
    (row,) = store.query("SELECT id FROM claims WHERE kind = 'investor'")
    with store.atomic():
        correction = review_claim(store, row["id"], "rejected", why="a rival, not an investor")
    assert correction is not None and correction.thread_key == "Kling:investor"
    assert message(correction) == ("Correction: Kling investor Tencent (a.example) was rejected by hand and no longer"
                                   " counts: a rival, not an investor")
    # named again later, it is new again: the rejected claim no longer counts
    assert kinds(rec(store, ex(investors=("Tencent",)), "https://b.example/2")) == [("new_investor", "investor")]


def test_a_reported_round_that_closes_is_a_revision_and_plain_bases_go_unsaid() -> None:
    store = Store()
    recd(store, fact("round_size", 2e9, basis="round", qualifier="range", high=3e9), "https://a.example/1")
    closed = recd(store, fact("round_size", 3e9, basis="round", qualifier="approx", stage="closed"),
                  "https://b.example/2")
    assert [(e.type, e.rule) for e in closed] == [("revised_figure", "stage_moved")]
    assert message(closed[0]) == ("Revised: Kling round size ~$3B closed (was $2B–$3B reported, +20%)"
                                  " — source: b.example")
    # a later report of an earlier stage says nothing new
    assert kinds(recd(store, fact("round_size", 3e9, basis="round", stage="committed"), "https://c.example/3")) == [
        ("corroborated", "round_size")]


def test_an_unclassified_metric_far_from_the_known_one_is_another_metric_not_a_conflict() -> None:
    store = Store()
    recd(store, fact("users", 1.2e7, basis="other", unit="count"), "https://a.example/1")
    far = recd(store, fact("users", 5e4, basis="other", unit="count"), "https://b.example/2")
    assert [(e.type, e.rule) for e in far] == [("new_figure", "another_metric")]
    assert "taken for another metric" in why(far[0])
