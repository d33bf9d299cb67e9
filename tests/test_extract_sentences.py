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


# ------------------------------------------------------------------ investors

INVESTOR_ROWS: list[tuple[str, str, list[str]]] = [
    ("led-by-with-participation",
     "Kling AI's round was led by Tencent and Alibaba, with participation from CITIC Securities.",
     ["Tencent", "Alibaba", "CITIC Securities"]),
    ("joined", "Sequoia China, Hillhouse and IDG Capital joined Kling AI's $1 billion round.",
     ["Sequoia China", "Hillhouse", "IDG Capital"]),
    ("backed-by-canonical", "Kling AI's new round is backed by Tencent Holdings Ltd.", ["Tencent"]),
    ("investors-include", "Kling AI's investors include Baidu, Meituan and Xiaomi.", ["Baidu", "Meituan", "Xiaomi"]),
    ("rivals-not-investors", "Rivals like ByteDance and Tencent are investing heavily, while Kling AI raised $1 billion.", []),
    ("outlet-not-investor", "Bloomberg reported that Alibaba and Tencent joined a $2 billion funding round for Kling AI.",
     ["Alibaba", "Tencent"]),
    ("according-to-outlets",
     "According to Reuters and Caixin, Alibaba and Tencent are participating in Kling AI's financing.",
     ["Alibaba", "Tencent"]),
    ("co-leads-parenthetical",
     "Kling AI co-leads: HongShan, Qiming Venture Partners (with Lenovo Capital), and Hillhouse.",
     ["HongShan", "Qiming Venture Partners", "Lenovo Capital", "Hillhouse"]),
    ("descriptor-parenthetical",
     "Media players also participated: Bona Film and Mango's venture arm (Golden Mango Capital), Kling AI said of the round.",
     ["Bona Film", "Golden Mango Capital"]),
    ("lead-investor", "Baidu joined alongside lead investor Tencent in Kling AI's round.", ["Baidu", "Tencent"]),
    ("cap-table", "Kling AI closed a round with Tencent, Alibaba Cloud, and Baidu all on the cap table.",
     ["Tencent", "Alibaba Cloud", "Baidu"]),
    ("invested-cheque", "Tencent invested $500 million in Kling AI.", ["Tencent"]),
    ("zh-lead-follow", "可灵AI本轮融资由腾讯、阿里巴巴领投，百度跟投。", ["Tencent", "Alibaba", "Baidu"]),
    ("zh-investors-include", "可灵AI的投资方包括中信证券、华策影视。", ["CITIC Securities", "Huace Film & TV"]),
    ("competitors-only", "Kling AI competes with Runway, Pika and OpenAI's Sora.", []),
    ("person-joined-not-investor", "Zhang Di joined Kling AI as head of research.", []),
    ("speculative-participation", "The participation of Alibaba and Tencent in Kling AI's round, if confirmed, would matter.", []),
    ("would-back", "Alibaba and Tencent would back Kling AI's round.", []),
]


@pytest.mark.parametrize(("text", "expected"), [(t, e) for _, t, e in INVESTOR_ROWS], ids=[i for i, _, _ in INVESTOR_ROWS])
def test_investors(text: str, expected: list[str]) -> None:
    assert list(_ex(text).investors) == expected


# ------------------------------------------------------------------ cloud partners

CLOUD_ROWS: list[tuple[str, str, list[str]]] = [
    ("available-on", "Kling AI's models are now available on Alibaba Cloud's Model Studio.", ["Alibaba Cloud"]),
    ("partnered-aws", "Kuaishou partnered with AWS to distribute Kling AI to enterprise customers.", ["AWS"]),
    ("hosted-vertex", "Kling AI is hosted on Google Cloud's Vertex AI.", ["Google Cloud"]),
    ("zh-volcano", "快手与火山引擎达成合作，在其平台上线可灵模型。", ["Volcano Engine"]),
    ("investor-not-partner", "Alibaba Cloud invested in Kling AI's round.", []),
    ("watch-whether", "Watch whether Tencent Cloud becomes a distribution partner for Kling AI.", []),
    ("monitor-whether", "Monitor whether Alibaba Cloud, Tencent Cloud, or others become infrastructure partners for Kling AI.", []),
    ("western-like", "Western firms rely on cloud partnerships like Microsoft and OpenAI, unlike Kling AI.", []),
    ("no-entity", "Oracle partnered with OpenAI on data centers.", []),
]


@pytest.mark.parametrize(("text", "expected"), [(t, e) for _, t, e in CLOUD_ROWS], ids=[i for i, _, _ in CLOUD_ROWS])
def test_cloud_partners(text: str, expected: list[str]) -> None:
    assert list(_ex(text).cloud_partners) == expected


# ------------------------------------------------------------------ product moves

MOVE_ROWS: list[tuple[str, str, list[tuple[str, str | None]]]] = [
    ("launch-version", "Kuaishou launched Kling 2.1 with faster generation.", [("launch", "Kling 2.1")]),
    ("launch-zh", "快手发布可灵2.0。", [("launch", "Kling 2.0")]),
    ("api", "Kling AI opened its API to enterprise developers.", [("api", None)]),
    ("pricing", "Kling AI cut prices for its Pro subscription by 30%.", [("pricing", None)]),
    ("integration", "Kling AI has been integrated into Kuaishou's merchant platform.", [("integration", None)]),
    ("integration-happening", "The Kling integration is already happening across Kuaishou's merchant platforms.",
     [("integration", None)]),
    ("expansion", "Kling AI expanded into Japan and Korea this month.", [("expansion", None)]),
    ("milestone-number", "Kling AI surpassed 45 million users.", [("milestone", None)]),
    ("milestone-no-number", "Kuaishou's Kling reportedly reached a major global user milestone.", [("milestone", None)]),
    ("may-launch", "Kuaishou may launch Kling 3.0 next month.", []),
    ("if-integrates", "If Kuaishou integrates Kling into its app, growth would follow.", []),
    ("watch-for-api", "Watch for product moves such as Kling AI enterprise APIs.", []),
    ("rival-integration", "ByteDance has been integrating its video tools into CapCut.", []),
    ("revenue-not-milestone", "Kuaishou's Kling AI hits $240 million annualized revenue as paying users climb.", []),
    ("pricing-gerund", "Kuaishou launched Kling 2.5 Turbo, cutting prices by 30% for API customers.",
     [("launch", "Kling 2.5 Turbo"), ("pricing", None)]),
    ("abstract-integration", "Returns for Kling hinge on seamless integration with Kuaishou's core products.", []),
]


@pytest.mark.parametrize(("text", "expected"), [(t, e) for _, t, e in MOVE_ROWS], ids=[i for i, _, _ in MOVE_ROWS])
def test_product_moves(text: str, expected: list[tuple[str, str | None]]) -> None:
    moves = _ex(text).product_moves
    assert [m.kind for m in moves] == [k for k, _ in expected]
    for m, (_, what) in zip(moves, expected, strict=True):
        if what is not None:
            assert m.what == what
        assert m.quote and not m.speculative


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
    assert "launch" in table and "Kling 2.1" in table


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
