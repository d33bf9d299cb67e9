"""The language rule files load, have both sections, and compile."""

import re

import pytest

from monitor import rules


def test_every_language_file_has_both_sections():
    langs = rules.languages()
    assert {"en", "zh", "ja", "ko", "es", "pt", "fr", "de", "it", "ru"} <= set(langs)
    for lang, data in langs.items():
        for section in rules.SECTIONS:
            assert isinstance(data.get(section), dict), f"{lang}.toml lacks [{section}]"


@pytest.mark.parametrize("lang", sorted(rules.languages()))
def test_every_concept_compiles(lang):
    for section in rules.SECTIONS:
        for concept, value in rules.languages()[lang][section].items():
            if isinstance(value, list):
                re.compile(rules.alternation(section, concept, (lang,)))
