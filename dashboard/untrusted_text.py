"""Text that comes from data (file names, site ids, query parameters, error details) shown
through Streamlit's Markdown without turning into links, images or formatting."""

from __future__ import annotations

import re

# CommonMark lets a backslash precede any ASCII punctuation and then shows it as itself.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
# GFM's bare autolinks (`www.`, `http://`, `a@b.c`) are found in the text after escapes are
# resolved: an invisible word joiner at these places keeps them text.
_AUTOLINK_JOINTS = re.compile(r"(?i)(?<=www)(?=\.)|(?<=:)(?=//)|(?=@)")
WORD_JOINER = "\u2060"


def plain(text: object) -> str:
    """`text` as Markdown that shows exactly those characters: no link, image, emphasis, code.

    Everything Streamlit renders as Markdown (markdown, captions, alerts, toasts, titles,
    button, tab and metric labels, help tooltips) would otherwise turn a crafted file name,
    site id, query parameter or error detail into a live link or a remote image. Escaping
    every ASCII punctuation mark also disarms Streamlit's own directives (`:material/…:`,
    `:red[…]`, `$…$`), since none of them starts without one; bare URLs and addresses
    get a word joiner (invisible) where GFM would see a link. Never wrap the result in
    backticks: inside code spans escapes show.
    """
    return _PUNCTUATION.sub(r"\\\1", _AUTOLINK_JOINTS.sub(WORD_JOINER, str(text)))
