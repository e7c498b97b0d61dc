"""The console's words in Chinese (the default) and English.

One table for the templates and the browser scripts: the page embeds the current language's
entries, and `t(key)` in JavaScript reads them. Error codes from the API have entries under
`err.<code>`; for a code without one the API's own message is shown.
"""

from __future__ import annotations

from app.console import (
    words_admin,
    words_benefits,
    words_common,
    words_mall,
    words_programs,
    words_reports,
)

# key: (中文, English)
MESSAGES: dict[str, tuple[str, str]] = {
    **words_common.WORDS,
    **words_programs.WORDS,
    **words_mall.WORDS,
    **words_admin.WORDS,
    **words_benefits.WORDS,
    **words_reports.WORDS,
}

LANG_INDEX = {"zh": 0, "en": 1}


def translate(key: str, lang: str, **values: object) -> str:
    entry = MESSAGES.get(key)
    text = key if entry is None else entry[LANG_INDEX.get(lang, 0)]
    return text.format(**values) if values else text


def catalogue(lang: str) -> dict[str, str]:
    """Every entry in one language, for the page's scripts."""
    index = LANG_INDEX.get(lang, 0)
    return {key: entry[index] for key, entry in MESSAGES.items()}
