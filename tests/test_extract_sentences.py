"""Table-driven tests of the extractor, one sentence at a time: investors, cloud partners, product moves,
statuses and a few whole-document properties. The facts tables are data: tests/data/extract/*.toml,
run by tests/test_extract_facts.py.
"""

from __future__ import annotations

import pytest

from monitor.extract import extract, format_table, split_sentences
from monitor.models import Document

Row = tuple[str, float, str, str, str, float | None, float | None]


def _ex(text: str):  # noqa: ANN202 - Extraction
    return extract(Document(source="t", title="", text=text))


def _facts(text: str) -> list[Row]:
    return [(f.kind, f.value, f.unit, f.qualifier, f.subject, f.range_high, f.value_usd) for f in _ex(text).facts]


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


def test_sentence_flags_are_found_when_first_asked() -> None:
    from monitor.extract import _build_ctx, _is_speculative
    from monitor.match import default_watchlist

    ctx = _build_ctx("Kling AI could raise $1 billion. Reuters reported that Tencent invested.", (), default_watchlist())
    hedge, reported = ctx.sents
    assert hedge._speculative is None and hedge._attributed is None  # nothing computed up front
    assert hedge.speculative and not hedge.attributed
    assert not reported.speculative and reported.attributed
    assert reported.speculative == _is_speculative(reported.text, reported.low)  # asked twice, same answer
