"""What every page draws the same way: its title, the empty state, a toast after an action."""

from __future__ import annotations

import streamlit as st

SIMULATE_PAGE = "pages/simulate.py"
NO_DATA = "No data yet: simulate some on the Simulate page, or upload files to the raw bucket."
_FLASH = "_flash"


def header(title: str, icon: str, caption: str) -> None:
    st.title(f":material/{icon}: {title}", anchor=False)
    st.caption(caption)


def empty_state(message: str = NO_DATA, *, link: bool = True) -> None:
    st.info(message, icon=":material/lightbulb:")
    if link:
        st.page_link(SIMULATE_PAGE, label="Go to Simulate", icon=":material/arrow_forward:")


def flash(message: str, icon: str = ":material/check_circle:") -> None:
    """A toast that survives the rerun that follows an action."""
    st.session_state[_FLASH] = (message, icon)


def show_flash() -> None:
    if pending := st.session_state.pop(_FLASH, None):
        st.toast(pending[0], icon=pending[1])
