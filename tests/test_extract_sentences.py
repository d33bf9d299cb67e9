"""Table-driven tests of the extractor, one sentence at a time.

Each FACT row is (id, sentence, expected) where expected lists every fact extract() must return,
as (kind, value, unit, qualifier, subject, range_high, value_usd), or [] when nothing may come out.
Traps (rivals, counts of days and investors, versions, years, allocation percentages, changes,
hedges, people named Kling, Klingon) are rows with [].
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.extract import extract, format_table, split_sentences
from monitor.models import Document

Row = tuple[str, float, str, str, str, float | None, float | None]


def _ex(text: str):  # noqa: ANN202 - Extraction
    return extract(Document(source="t", title="", text=text))


def _facts(text: str) -> list[Row]:
    return [(f.kind, f.value, f.unit, f.qualifier, f.subject, f.range_high, f.value_usd) for f in _ex(text).facts]


FACT_ROWS: list[tuple[str, str, list[Row]]] = [
    # ---- money forms, English
    ("words-dollar", "Kuaishou filed a three billion dollar funding round for Kling AI.",
     [("round_size", 3e9, "USD", "exact", "Kling", None, 3e9)]),
    ("dollar-billion", "Kling AI raised $2 billion in its latest round.",
     [("round_size", 2e9, "USD", "exact", "Kling", None, 2e9)]),
    ("us-dollar", "Kling AI is raising US$3 billion from new investors.",
     [("round_size", 3e9, "USD", "exact", "Kling", None, 3e9)]),
    ("bn", "Kling AI closed a $2bn funding round.",
     [("round_size", 2e9, "USD", "exact", "Kling", None, 2e9)]),
    ("million-inject", "An additional 15 investors will inject $767 million into Kling AI.",
     [("round_size", 7.67e8, "USD", "exact", "Kling", None, 7.67e8)]),
    ("rmb-conversion", "Beijing Keling signed with 21 investors, bringing in RMB 13.8 billion (~$2.028 billion).",
     [("round_size", 1.38e10, "CNY", "exact", "Kling", None, 2.028e9)]),
    ("rmb-conversion-approx", "Kling AI raised about RMB 5.2 billion (~$767 million) from 15 investors.",
     [("round_size", 5.2e9, "CNY", "approx", "Kling", None, 7.67e8)]),
    ("usd-first-conversion", "Kuaishou said capital expenditure for 2026 will reach about $3.6 billion (roughly RMB 26 billion).",
     [("capex", 3.6e9, "USD", "approx", "Kuaishou", None, 3.6e9)]),
    ("or-about-conversion", "Kling AI raised RMB 26 billion, or about $3.6 billion, in the round.",
     [("round_size", 2.6e10, "CNY", "exact", "Kling", None, 3.6e9)]),
    ("hkd", "Kuaishou will raise HK$5 billion through a share placement.",
     [("round_size", 5e9, "HKD", "exact", "Kuaishou", None, None)]),
    ("yen-sign-cny", "Kling AI was valued at ¥100 billion.",
     [("valuation", 1e11, "CNY", "exact", "Kling", None, None)]),
    ("euro", "Kling AI raised €500 million.",
     [("round_size", 5e8, "EUR", "exact", "Kling", None, None)]),
    ("pound-m", "Kling AI raised £100m.",
     [("round_size", 1e8, "GBP", "exact", "Kling", None, None)]),
    ("usd-bn-decimal", "Kling AI raised US$1.2bn, led by Tencent.",
     [("round_size", 1.2e9, "USD", "exact", "Kling", None, 1.2e9)]),
    ("twenty-two-million-dollars", "Kling AI raised twenty-two million dollars.",
     [("round_size", 2.2e7, "USD", "exact", "Kling", None, 2.2e7)]),
    ("B-suffix-other", "Kuaishou bets $3.6B on Kling.",
     [("other", 3.6e9, "USD", "exact", "Kuaishou", None, 3.6e9)]),
    # ---- qualifiers and ranges
    ("range-to-nearly", "Kuaishou's Kling AI raised $2 billion to nearly $3 billion, reports said.",
     [("round_size", 2e9, "USD", "range", "Kling", 3e9, 2e9)]),
    ("range-dash", "Kling AI is raising $2-3 billion.",
     [("round_size", 2e9, "USD", "range", "Kling", 3e9, 2e9)]),
    ("range-between", "Kling AI is seeking between $2 billion and $3 billion in new funding.",
     [("round_size", 2e9, "USD", "range", "Kling", 3e9, 2e9)]),
    ("range-shared-scale", "Kling AI is raising $2 to $3 billion.",
     [("round_size", 2e9, "USD", "range", "Kling", 3e9, 2e9)]),
    ("range-words", "Kling AI is raising two to three billion dollars.",
     [("round_size", 2e9, "USD", "range", "Kling", 3e9, 2e9)]),
    ("up-to", "Kling AI plans a round of up to $3 billion.",
     [("round_size", 3e9, "USD", "up_to", "Kling", None, 3e9)]),
    ("as-much-as", "Kling AI raised as much as $3 billion.",
     [("round_size", 3e9, "USD", "up_to", "Kling", None, 3e9)]),
    ("capped-at", "Kling AI's round is capped at RMB 20.4471 billion (~$3 billion).",
     [("round_size", 2.04471e10, "CNY", "up_to", "Kling", None, 3e9)]),
    ("at-least", "Kling AI raised at least $1 billion.",
     [("round_size", 1e9, "USD", "at_least", "Kling", None, 1e9)]),
    ("more-than", "Kling AI raised more than $1 billion.",
     [("round_size", 1e9, "USD", "at_least", "Kling", None, 1e9)]),
    ("over", "Kling AI raised over $1 billion.",
     [("round_size", 1e9, "USD", "at_least", "Kling", None, 1e9)]),
    ("roughly", "Kling AI raised roughly $2 billion.",
     [("round_size", 2e9, "USD", "approx", "Kling", None, 2e9)]),
    ("tilde", "Kling AI raised ~$2 billion.",
     [("round_size", 2e9, "USD", "approx", "Kling", None, 2e9)]),
    ("nearly", "Kling AI raised nearly $3 billion.",
     [("round_size", 3e9, "USD", "approx", "Kling", None, 3e9)]),
    ("about", "Kling AI raised about $2 billion.",
     [("round_size", 2e9, "USD", "approx", "Kling", None, 2e9)]),
    # ---- roles
    ("valued-at", "Kling AI is valued at $18 billion after the round.",
     [("valuation", 1.8e10, "USD", "exact", "Kling", None, 1.8e10)]),
    ("post-money", "The round gives Kling AI a post-money valuation of $20 billion.",
     [("valuation", 2e10, "USD", "exact", "Kling", None, 2e10)]),
    ("round-and-valuation", "Kling AI is raising $2 billion at an $18 billion valuation.",
     [("round_size", 2e9, "USD", "exact", "Kling", None, 2e9), ("valuation", 1.8e10, "USD", "exact", "Kling", None, 1.8e10)]),
    ("valuation-expected", "The post-money valuation of Kling AI is expected to reach $180 billion.",
     [("valuation", 1.8e11, "USD", "approx", "Kling", None, 1.8e11)]),
    ("capex-approx", "Kuaishou expects capital expenditure of roughly $3.6 billion in 2026.",
     [("capex", 3.6e9, "USD", "approx", "Kuaishou", None, 3.6e9)]),
    ("capex-group-despite-kling", "Kuaishou's capex will reach RMB 26 billion for 2026, driven by Kling.",
     [("capex", 2.6e10, "CNY", "exact", "Kuaishou", None, None)]),
    ("capex-spend", "Kuaishou plans to spend RMB 26 billion on capital expenditure in 2026.",
     [("capex", 2.6e10, "CNY", "exact", "Kuaishou", None, None)]),
    ("revenue-group", "Kuaishou's total revenue for 2025 was RMB 142 billion.",
     [("revenue", 1.42e11, "CNY", "exact", "Kuaishou", None, None)]),
    ("revenue-kling", "Kling AI generated revenue of more than RMB 1 billion in 2025.",
     [("revenue", 1e9, "CNY", "at_least", "Kling", None, None)]),
    ("arr", "Kling AI's annualized revenue run rate reached $240 million.",
     [("revenue", 2.4e8, "USD", "exact", "Kling", None, 2.4e8)]),
    ("arr-acronym", "Kling AI's ARR is $100 million.",
     [("revenue", 1e8, "USD", "exact", "Kling", None, 1e8)]),
    ("investment-cheque", "Tencent invested $500 million in Kling AI.",
     [("investment", 5e8, "USD", "exact", "Kling", None, 5e8)]),
    ("investment-possessive", "Alibaba's $300 million investment in Kling AI was confirmed.",
     [("investment", 3e8, "USD", "exact", "Kling", None, 3e8)]),
    ("stake-registered-capital", "Kuaishou holds 83.33% of Kling AI's registered capital after the deal.",
     [("stake", 83.33, "percent", "exact", "Kling", None, None)]),
    ("stake-word", "New investors will take a 16.67% stake in Kling AI.",
     [("stake", 16.67, "percent", "exact", "Kling", None, None)]),
    ("users", "Kling AI now has 22 million users worldwide.",
     [("users", 2.2e7, "count", "exact", "Kling", None, None)]),
    ("creators-more-than", "Kling AI has more than 45 million creators on the platform.",
     [("users", 4.5e7, "count", "at_least", "Kling", None, None)]),
    ("mau-reached", "Kling AI's monthly active users reached about 6 million in Q3 2025.",
     [("users", 6e6, "count", "approx", "Kling", None, None)]),
    ("paying-users", "Kuaishou's Kling AI has 10 million paying users.",
     [("users", 1e7, "count", "exact", "Kling", None, None)]),
    ("dau-kuaishou", "Kuaishou reported DAU of 408 million in Q2 2025.",
     [("users", 4.08e8, "count", "exact", "Kuaishou", None, None)]),
    ("users-not-videos", "Kling AI's 22 million users generated 100 million videos.",
     [("users", 2.2e7, "count", "exact", "Kling", None, None)]),
    ("surpassed-users", "Kling AI surpassed 45 million users.",
     [("users", 4.5e7, "count", "at_least", "Kling", None, None)]),
    ("from-to-change", "Kling AI's valuation rose from $10 billion to $18 billion.",
     [("valuation", 1.8e10, "USD", "exact", "Kling", None, 1.8e10)]),
    ("rival-beside-round", "Rivals like ByteDance and Tencent have poured money into video models, while Kling AI raised $1 billion.",
     [("round_size", 1e9, "USD", "exact", "Kling", None, 1e9)]),
    # ---- Chinese, Simplified and Traditional
    ("zh-usd", "可灵AI完成30亿美元融资。", [("round_size", 3e9, "USD", "exact", "Kling", None, 3e9)]),
    ("zh-rmb", "快手计划为可灵募资200亿元人民币。", [("round_size", 2e10, "CNY", "exact", "Kling", None, None)]),
    ("zh-valuation", "可灵AI估值达到1200亿元。", [("valuation", 1.2e11, "CNY", "exact", "Kling", None, None)]),
    ("zh-valuation-over", "可灵AI估值超过200亿美元。", [("valuation", 2e10, "USD", "at_least", "Kling", None, 2e10)]),
    ("zh-up-to", "可灵AI本轮融资金额最高为30亿美元。", [("round_size", 3e9, "USD", "up_to", "Kling", None, 3e9)]),
    ("zh-range", "快手向可灵注资20亿元至30亿元。", [("round_size", 2e9, "CNY", "range", "Kling", 3e9, None)]),
    ("zh-revenue-quarter", "快手2025年第三季度收入为355亿元。", [("revenue", 3.55e10, "CNY", "exact", "Kuaishou", None, None)]),
    ("zh-arr", "可灵AI年化收入运行率达2.4亿美元。", [("revenue", 2.4e8, "USD", "exact", "Kling", None, 2.4e8)]),
    ("zh-users-wan", "可灵AI全球用户突破2200万。", [("users", 2.2e7, "count", "at_least", "Kling", None, None)]),
    ("zh-creators-1.5wan", "可灵AI创作者数量达1.5万名。", [("users", 1.5e4, "count", "exact", "Kling", None, None)]),
    ("zh-conversion", "可灵AI融资13.8亿元人民币（约合2亿美元）。", [("round_size", 1.38e9, "CNY", "exact", "Kling", None, 2e8)]),
    ("zh-chinese-numerals", "可灵AI获得二十亿元融资。", [("round_size", 2e9, "CNY", "exact", "Kling", None, None)]),
    ("zht-round", "可靈AI完成13.8億元融資。", [("round_size", 1.38e9, "CNY", "exact", "Kling", None, None)]),
    ("zht-capex", "快手預計2026年資本開支約為260億元人民幣。", [("capex", 2.6e10, "CNY", "approx", "Kuaishou", None, None)]),
    ("zht-valuation", "快手旗下可靈AI估值約180億美元。", [("valuation", 1.8e10, "USD", "approx", "Kling", None, 1.8e10)]),
    ("zht-hkd", "快手配股集資約50億港元。", [("round_size", 5e9, "HKD", "approx", "Kuaishou", None, None)]),
    # ---- Japanese, Korean, decimal commas
    ("ko-eok", "Kling AI는 3억 달러 투자를 유치했다.", [("round_size", 3e8, "USD", "exact", "Kling", None, 3e8)]),
    ("ja-oku-dollar", "Kling AIは30億ドルの資金調達を行った。", [("round_size", 3e9, "USD", "exact", "Kling", None, 3e9)]),
    ("pt-decimal-comma", "A Kling AI levantou US$ 4,4 bilhões em nova rodada de financiamento.",
     [("round_size", 4.4e9, "USD", "exact", "Kling", None, 4.4e9)]),
    # ---- traps: nothing may come out
    ("trap-yoy-percent", "Kling AI's revenue rose 20% year on year.", []),
    ("trap-capex-jump", "Kuaishou's capex jumped by about $1.5 billion from 2025 levels.", []),
    ("trap-increase-by", "Kuaishou's revenue increased by RMB 10 billion compared with last year.", []),
    ("trap-a-jump-of", "Kuaishou's capex will see a jump of about $1.5 billion.", []),
    ("trap-allocation", "Kling AI's budget: 55% compute, 25% research and 20% marketing.", []),
    ("trap-allocation-proceeds", "Of the proceeds, 55% will go to compute for Kling AI.", []),
    ("trap-billions-of-dollars", "Kuaishou's e-commerce handles billions of dollars in transactions.", []),
    ("trap-thousands-of-dollars", "A Kling AI ad costs thousands of dollars less than a shoot.", []),
    ("trap-days", "Kling AI gave investors a 60-day window to join.", []),
    ("trap-investor-count", "Kling AI signed with 21 initial investors on July 2.", []),
    ("trap-version-year", "Kuaishou released Kling 2.1 in 2025.", []),
    ("trap-years-employees", "Kling AI has been around for three years and has 200 employees.", []),
    ("trap-customers", "Kling AI has 1,500 enterprise customers.", []),
    ("trap-watch-whether", "Investors will watch whether Kling AI raises $5 billion next year.", []),
    ("trap-if-confirmed", "If confirmed, the round would value Kling AI at $20 billion.", []),
    ("trap-could", "Kling AI could raise $4 billion in a second round.", []),
    ("trap-may-become", "Kling AI may become worth $30 billion.", []),
    ("trap-monitor-whether", "Monitor whether Kuaishou spends $5 billion on Kling.", []),
    ("trap-if-would", "If Kling AI hits its targets, revenue would reach $1 billion in 2026.", []),
    ("trap-valuation-could-double", "Kling AI's valuation could double to $36 billion.", []),
    ("trap-users-grew-by", "Kling AI's users grew by 10 million in a month.", []),
    ("trap-shares-rose", "Kuaishou shares rose 5% after Kling AI's launch.", []),
    ("trap-small-price", "Kling 2.1 costs $10 per month.", []),
    ("trap-senator", "Senator Kling proposed a $2 billion fund for AI research.", []),
    ("trap-person-said", "Brian Kling said his firm raised $50 million for a video startup.", []),
    ("trap-klingon", "The Klingon language app raised $5 million for its AI tutor.", []),
    ("trap-law-firm", "Kling & Partners advised on a $1 billion AI video deal.", []),
    ("trap-klingenberg", "Klingenberg Capital raised $300 million for video AI.", []),
    ("trap-zh-whether", "市场关注可灵AI是否会融资50亿美元。", []),
    ("trap-zh-months", "可灵AI成立于2024年，团队有300人。", []),
    ("trap-up-from-previous", "Kling AI's revenue run rate passed $240 million, up from $100 million in March.",
     [("revenue", 2.4e8, "USD", "exact", "Kling", None, 2.4e8)]),
    ("clause-level-hedge", "Kuaishou said it would keep investing, with capital expenditure of about RMB 17 billion in 2025.",
     [("capex", 1.7e10, "CNY", "approx", "Kuaishou", None, None)]),
    ("hedged-clause-beside-fact", "Kling AI, which could become a $10 billion business, raised $1 billion.",
     [("round_size", 1e9, "USD", "exact", "Kling", None, 1e9)]),
    ("the-company-is-kuaishou", "Kuaishou owns Kling AI. The company reported quarterly revenue of RMB 35.5 billion.",
     [("revenue", 3.55e10, "CNY", "exact", "Kuaishou", None, None)]),
]


@pytest.mark.parametrize(("text", "expected"), [(t, e) for _, t, e in FACT_ROWS], ids=[i for i, _, _ in FACT_ROWS])
def test_fact_rows(text: str, expected: list[Row]) -> None:
    assert _facts(text) == expected


def test_enough_rows() -> None:
    assert len(FACT_ROWS) >= 80


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("Kuaishou expects capital expenditure of roughly $3.6 billion in 2026.", "2026"),
        ("Kuaishou's capital expenditure for 2026 will reach $3.6 billion, a rise from 2025.", "2026"),
        ("Kling AI's monthly active users reached about 6 million in Q3 2025.", "Q3 2025"),
        ("快手2025年第三季度收入为355亿元。", "Q3 2025"),
        ("快手2025年收入为1420亿元。", "2025"),
        ("Kuaishou's FY2025 revenue was RMB 142 billion.", "FY2025"),
        ("Kling AI's revenue was $100 million.", None),
    ],
)
def test_period(text: str, period: str | None) -> None:
    facts = _ex(text).facts
    assert len(facts) == 1
    assert facts[0].period == period


def test_offsets_and_quote_refer_to_full_text() -> None:
    doc = Document(source="t", title="Kling AI raises money", text="Intro.\n\nKling AI raised about $2 billion in a round.")
    ex = extract(doc)
    (f,) = ex.facts
    assert doc.full_text[f.start:f.end] == "$2 billion"
    assert f.quote == "Kling AI raised about $2 billion in a round."


def test_relative_then_total_in_one_sentence() -> None:
    text = "Kuaishou's capital expenditure will reach about $3.6 billion, a jump of about $1.5 billion from 2025."
    assert _facts(text) == [("capex", 3.6e9, "USD", "approx", "Kuaishou", None, 3.6e9)]


def test_repeat_without_role_is_not_a_second_fact() -> None:
    text = ("Kuaishou filed a three billion dollar funding round for Kling AI. "
            "The three billion dollars will not go toward hiring. It goes to compute for Kling.")
    assert _facts(text) == [("round_size", 3e9, "USD", "exact", "Kling", None, 3e9)]


def test_irrelevant_document_is_empty() -> None:
    ex = _ex("OpenAI raised $40 billion at a $300 billion valuation.")
    assert ex.relevant is False and ex.facts == () and ex.entities == ()


def test_stage_on_facts() -> None:
    filed = _ex("Kuaishou has filed a $3 billion funding round for Kling AI with the HKEX.").facts[0]
    reported = _ex("Bloomberg reported that Kling AI raised $2 billion.").facts[0]
    closed = _ex("Kling AI has closed a round of nearly $3 billion.").facts[0]
    assert (filed.stage, reported.stage, closed.stage) == ("filed", "reported", "closed")


# investors, cloud partners and product moves: tests/data/names/<lang>.toml, run by tests/test_names.py


# ------------------------------------------------------------------ statuses

STATUS_ROWS: list[tuple[str, str, tuple[str, ...]]] = [
    ("filed", "Kuaishou has filed the Kling AI funding round with the HKEX.", ("filed",)),
    ("closed", "Kling AI has closed a round of nearly $3 billion.", ("closed",)),
    ("signed", "Kling AI signed agreements with 21 investors in the round.", ("signed",)),
    ("closed-and-signed", "Kling AI Closes $3 Billion Round. Beijing Keling signed with 21 investors in the financing.",
     ("closed", "signed")),
    ("reported-filing", "Reports said Kuaishou had filed for a Kling AI round.", ()),
    ("could-close", "Kling AI could close the round next month.", ()),
    ("closing-progressive", "Kling AI is closing a funding round.", ()),
    ("zh-closed", "可灵AI完成新一轮融资。", ("closed",)),
]


@pytest.mark.parametrize(("text", "expected"), [(t, e) for _, t, e in STATUS_ROWS], ids=[i for i, _, _ in STATUS_ROWS])
def test_statuses(text: str, expected: tuple[str, ...]) -> None:
    assert _ex(text).statuses == expected


# ------------------------------------------------------------------ helpers


def test_split_sentences_keeps_decimals_and_abbreviations() -> None:
    text = "Kling raised $2.5 billion from U.S. funds. Then it grew.\nNew line here"
    parts = [text[s:e] for s, e in split_sentences(text)]
    assert parts == ["Kling raised $2.5 billion from U.S. funds.", "Then it grew.", "New line here"]


def test_format_table_lists_everything() -> None:
    ex = _ex("Kling AI raised about RMB 5.2 billion (~$767 million), led by Tencent. Kuaishou launched Kling 2.1.")
    table = format_table(ex)
    assert "round_size" in table and "5.2B" in table and "767M" in table and "approx" in table
    assert "investors: Tencent" in table
    assert "model_launch" in table and "Kling 2.1" in table


def test_to_json_shape() -> None:
    js = _ex("Kling AI raised $2 billion, led by Tencent.").to_json()
    assert set(js) == {"source", "relevant", "entities", "facts", "investors", "cloud_partners", "product_moves"}
    assert js["facts"][0]["value"] == 2e9 and js["investors"] == ["Tencent"]


@pytest.mark.parametrize(
    ("text", "unit", "value", "alt_unit", "alt_value"),
    [
        ("Kling AI raised RMB 13.8 billion (~$2.028 billion) in its round.", "CNY", 1.38e10, "USD", 2.028e9),
        ("Kuaishou's capital expenditure will reach $3.6 billion (roughly RMB 26 billion) in 2026.",
         "USD", 3.6e9, "CNY", 2.6e10),
        ("Kling AI's funding round of HK$7.8 billion (US$1 billion) closed.", "HKD", 7.8e9, "USD", 1e9),
    ],
)
def test_conversion_keeps_the_second_currency(text: str, unit: str, value: float, alt_unit: str,
                                              alt_value: float) -> None:
    from monitor.extract import extract
    from monitor.models import Document

    facts = extract(Document(source="t", title="", text=text)).facts
    assert [(f.unit, f.value, f.alt_unit, f.alt_value) for f in facts] == [(unit, value, alt_unit, alt_value)]


@pytest.mark.parametrize(
    ("text", "published", "expected"),
    [
        # a quarter without its year takes the latest such quarter ended by the publication date
        ("Kuaishou's first-quarter revenue rose 10.9% to 32.6 billion yuan.", datetime(2025, 5, 27, tzinfo=UTC),
         [("revenue", "Kuaishou", 3.26e10, "Q1 2025")]),
        ("Kuaishou said fourth quarter revenue was RMB 35.4 billion.", datetime(2026, 3, 20, tzinfo=UTC),
         [("revenue", "Kuaishou", 3.54e10, "Q4 2025")]),
        ("快手第一季度总收入为326亿元。", datetime(2025, 5, 27, tzinfo=UTC),
         [("revenue", "Kuaishou", 3.26e10, "Q1 2025")]),
        ("Kuaishou's Q2 revenue reached RMB 35 billion.", None, [("revenue", "Kuaishou", 3.5e10, "Q2")]),
        ("Total revenue rose to 32.6 billion yuan at Kuaishou in the three months ended March 31.",
         datetime(2025, 5, 27, tzinfo=UTC), [("revenue", "Kuaishou", 3.26e10, "Q1 2025")]),
        ("Kuaishou's revenue for the three months ended September 30, 2025 was RMB 35.6 billion.", None,
         [("revenue", "Kuaishou", 3.56e10, "Q3 2025")]),
        # cue across a comma governs its own clause: the round, then the valuation
        ("可灵AI已完成新一轮融资，融资金额约20亿美元，投后估值约180亿美元。", None,
         [("round_size", "Kling", 2e9, None), ("valuation", "Kling", 1.8e10, None)]),
        ("快手旗下可靈AI據報已完成新一輪融資，集資約20億美元，估值約180億美元。", None,
         [("round_size", "Kling", 2e9, None), ("valuation", "Kling", 1.8e10, None)]),
    ],
)
def test_periods_and_clause_cues(text: str, published: datetime | None,
                                 expected: list[tuple[str, str, float, str | None]]) -> None:
    from monitor.extract import extract
    from monitor.models import Document

    facts = extract(Document(source="t", title="", text=text, published=published)).facts
    assert [(f.kind, f.subject, f.value, f.period) for f in facts] == expected


def test_headline_and_body_give_one_fact_with_the_body_conversion() -> None:
    from monitor.extract import extract
    from monitor.models import Document

    doc = Document(source="t", title="Kling AI revenue tops 150 million yuan",
                   text="Kuaishou said revenue from Kling AI exceeded 150 million yuan ($20.8 million).")
    assert [(f.kind, f.value, f.unit, f.value_usd) for f in extract(doc).facts] == [
        ("revenue", 1.5e8, "CNY", 2.08e7)]


@pytest.mark.parametrize(
    ("text", "investors", "partners"),
    [
        ("Alibaba Cloud said last month that it would host Kling models on its platform for overseas developers.",
         [], ["Alibaba Cloud"]),
        ("Alibaba Cloud could host Kling models on its platform.", [], []),
        ("Kuaishou said it would pick Alibaba Cloud to host Kling models if regulators approve.", [], []),
        ("快手旗下可靈AI據報已完成新一輪融資，集資約20億美元。騰訊及阿里巴巴均有參與。", ["Tencent", "Alibaba"], []),
        ("可灵AI完成新一轮融资，腾讯、阿里巴巴参与了本轮融资。", ["Tencent", "Alibaba"], []),
        ("可灵AI推出新模型，腾讯也参与了竞争。", [], []),
    ],
)
def test_reported_intent_and_chinese_participation(text: str, investors: list[str], partners: list[str]) -> None:
    from monitor.extract import extract
    from monitor.models import Document

    ex = extract(Document(source="t", title="", text=text))
    assert (list(ex.investors), list(ex.cloud_partners)) == (investors, partners)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a cue that introduces the next figure does not claim the one before it
        ("Kling is in talks to raise about $1 billion at a valuation of $15 billion to $20 billion, people said.",
         [("round_size", 1e9, "approx", None), ("valuation", 1.5e10, "range", 2e10)]),
        ("Kling AI raised $500 million at a $10 billion valuation.",
         [("round_size", 5e8, "exact", None), ("valuation", 1e10, "exact", None)]),
        # Portuguese and Spanish valuation words, decimal commas
        ("A Kling AI, da Kuaishou, capta US$ 2,8 bilhões e é avaliada em US$ 18 bilhões.",
         [("round_size", 2.8e9, "exact", None), ("valuation", 1.8e10, "exact", None)]),
        ("Kling AI, de Kuaishou, recauda US$ 500 millones y fue valorada en US$ 18 mil millones.",
         [("round_size", 5e8, "exact", None), ("valuation", 1.8e10, "exact", None)]),
    ],
)
def test_cues_that_introduce_figures_and_other_languages(text: str, expected: list[tuple[str, float, str, float | None]]
                                                         ) -> None:
    from monitor.extract import extract
    from monitor.models import Document

    facts = extract(Document(source="t", title="", text=text)).facts
    assert [(f.kind, f.value, f.qualifier, f.range_high) for f in facts] == expected


@pytest.mark.parametrize(
    ("text", "investors"),
    [
        ("Kling AI raised $2.8 billion. Tencent led the round alongside CPE and CITIC Securities, the filing showed.",
         ["Tencent", "CPE", "CITIC Securities"]),
        ("可灵AI完成融资。腾讯、CPE源峰、国方创投、中关村科学城基金、中信证券等担任联合领投方，阿里云、百度等战略投资者参与本轮融资。",
         ["Tencent", "CPE", "Guofang Ventures", "Zhongguancun Science City Fund", "CITIC Securities",
          "Alibaba Cloud", "Baidu"]),
    ],
)
def test_investor_lists_named_before_their_role(text: str, investors: list[str]) -> None:
    from monitor.extract import extract
    from monitor.models import Document

    assert list(extract(Document(source="t", title="", text=text)).investors) == investors


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The financing values Kling AI at roughly $18 billion after the investment.",
         [("valuation", "Kling", 1.8e10, None)]),
        ("Kling AI generated revenue of more than 1 billion yuan in the first half of 2026, Kuaishou said.",
         [("revenue", "Kling", 1e9, "H1 2026")]),
        ("可灵AI首期融资138亿元人民币，另有15名投资者将追加投资约52亿元。",
         [("round_size", "Kling", 1.38e10, None), ("round_size", "Kling", 5.2e9, None)]),
    ],
)
def test_values_at_halves_and_tranches(text: str, expected: list[tuple[str, str, float, str | None]]) -> None:
    from monitor.extract import extract
    from monitor.models import Document

    facts = extract(Document(source="t", title="", text=text)).facts
    assert [(f.kind, f.subject, f.value, f.period) for f in facts] == expected
