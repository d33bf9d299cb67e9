"""Watchlist matching: aliases, Chinese, tickers, false hits and the evidence kept."""

from __future__ import annotations

import pytest

from monitor.match import WatchEntity, Watchlist, compile_watchlist, default_watchlist, match_text

W = default_watchlist()


def _hits(text: str) -> list[tuple[str, str]]:
    return [(m.entity, m.alias) for m in match_text(text, W).mentions]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Kling AI raised money.", [("Kling", "Kling AI")]),
        ("Beijing Keling signed the deal.", [("Kling", "Beijing Keling")]),
        ("Keling AI is the new name.", [("Kling", "Keling AI")]),
        ("Kuaishou Technology reported results.", [("Kuaishou", "Kuaishou Technology")]),
        ("KUAISHOU shares jumped.", [("Kuaishou", "KUAISHOU")]),
        ("Kwai, the short-video app, grew in Brazil.", [("Kuaishou", "Kwai")]),
        ("快手旗下可灵AI完成融资。", [("Kuaishou", "快手"), ("Kling", "可灵AI")]),
        ("快手科技公布业绩。", [("Kuaishou", "快手科技")]),
        ("可靈AI估值上升。", [("Kling", "可靈AI")]),
        ("Shares of 1024.HK rose 5%.", [("Kuaishou", "1024.HK")]),
        ("Stock code 01024 traded higher.", [("Kuaishou", "01024")]),
        ("HKEX: 1024 closed up.", [("Kuaishou", "HKEX: 1024")]),
        ("Kling AI는 투자를 유치했다.", [("Kling", "Kling AI")]),
        # bare "Kling" counts with AI/video context or beside another entity
        ("Kling, the AI video generator, added lip sync.", [("Kling", "Kling")]),
        ("Kuaishou said Kling now has more features.", [("Kuaishou", "Kuaishou"), ("Kling", "Kling")]),
        ("Kuaishou's Kling is popular.", [("Kuaishou", "Kuaishou"), ("Kling", "Kling")]),
        ("Kling said in a statement that its video model improved.", [("Kling", "Kling")]),
    ],
)
def test_hits(text: str, expected: list[tuple[str, str]]) -> None:
    assert _hits(text) == expected
    assert match_text(text, W).relevant is True


@pytest.mark.parametrize(
    "text",
    [
        "Senator Kling said the AI bill would pass.",
        "Brian Kling said the video was fake.",
        "Brian Kling's AI startup raised money.",
        "Kling, a senator from Ohio, discussed AI video rules.",
        "Mr. Kling spoke about generative AI.",
        "The Klingon language has fans among AI researchers.",
        "Klingenberg hosts a video festival.",
        "Kling & Partners law firm advises AI companies.",
        "Kling LLP represented the video platform.",
        "Judge Kling ruled on the AI copyright case.",
        "The bells kling softly.",  # lower-case word
        "Kling went to the market and bought bread.",  # no context at all
        "Traffic in Kwai Chung was heavy.",
        "The Kwai Fong video shop.",
        "Reference 1024.5 is not a ticker; neither is 010245.",
    ],
)
def test_false_hits(text: str) -> None:
    m = match_text(text, W)
    assert m.relevant is False and m.entities == () and m.mentions == ()


def test_evidence_offsets() -> None:
    text = "Report: Kuaishou's unit Kling AI (可灵) raised funds; 1024.HK rose."
    m = match_text(text, W)
    assert m.entities == ("Kuaishou", "Kling")
    for mn in m.mentions:
        assert text[mn.start:mn.end] == mn.alias
    assert [(mn.entity, mn.alias, mn.start, mn.end) for mn in m.mentions] == [
        ("Kuaishou", "Kuaishou", 8, 16),
        ("Kling", "Kling AI", 24, 32),
        ("Kling", "可灵", 34, 36),
        ("Kuaishou", "1024.HK", 52, 59),
    ]


def test_longest_alias_wins() -> None:
    m = match_text("Kuaishou Technology and Kling AI", W)
    assert [mn.alias for mn in m.mentions] == ["Kuaishou Technology", "Kling AI"]


def test_person_excluded_but_brand_kept_in_same_text() -> None:
    m = match_text("Senator Kling praised Kling AI, the video model.", W)
    assert [(mn.alias, mn.start) for mn in m.mentions] == [("Kling AI", 22)]


def test_custom_watchlist_and_cache() -> None:
    w = Watchlist(entities=(WatchEntity("Acme", ("Acme Video", "艾克米"), ambiguous=("Acme",)),),
                  context_words=("video",), cloud_providers=())
    assert match_text("Acme Video launched.", w).entities == ("Acme",)
    assert match_text("艾克米发布新品", w).entities == ("Acme",)
    assert match_text("Acme makes a video model.", w).entities == ("Acme",)
    assert match_text("Acme sells anvils.", w).relevant is False
    assert compile_watchlist(w) is compile_watchlist(w)  # regexes built once per watchlist


def test_empty_text() -> None:
    assert match_text("", W).relevant is False


def test_a_sentence_end_before_kling_is_not_a_first_name() -> None:
    text = ("Kuaishou's Kling AI raised funds. The tranche is expected to close by September. "
            "Kling generated revenue of more than 1 billion yuan.\nKling also launched an API.")
    aliases = [(m.alias, m.start) for m in match_text(text, W).mentions]
    assert [a for a, s in aliases if a == "Kling"] == ["Kling", "Kling"]
    assert match_text("The new rules were signed by Sen. Kling on Monday about AI video.", W).relevant is False


def test_a_dotted_capital_i_neither_crashes_nor_hides_the_alias() -> None:
    # "İ".lower() is two characters ("i" and a combining dot): the alias is still Kuaishou's
    m = match_text("KUAİSHOU said its Kling AI unit raised $2 billion.", default_watchlist())
    assert m.relevant and "Kuaishou" in m.entities
