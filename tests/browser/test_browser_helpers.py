"""The browser helpers catch what they are for: unlabelled controls, and controls the keyboard cannot reach."""

from __future__ import annotations

import pytest

from tests.support.browser import BrowserPage, tab_to, unlabelled_controls


def test_unlabelled_controls_are_found(web: BrowserPage) -> None:
    # Given a page with one labelled field, one bare field, a nameless button and an image without alt
    web.page.set_content(
        '<html lang="en"><label for="a">Name</label><input id="a"><input id="bare">'
        '<button id="nameless"></button><button>Send</button><img src="x.png"></html>'
    )

    # When the page is checked
    found = unlabelled_controls(web.page)

    # Then exactly the three defects are reported
    assert len(found) == 3
    assert any('id="bare"' in f for f in found) and any('id="nameless"' in f for f in found)
    assert any(f.startswith("<img") for f in found)


def test_a_control_out_of_the_tab_order_is_reported(web: BrowserPage) -> None:
    # Given a button the Tab key skips
    web.page.set_content('<html lang="en"><button id="ok">OK</button><button id="skipped" tabindex="-1">No</button>')

    # Then reaching the first works and reaching the second fails
    tab_to(web.page, "#ok")
    with pytest.raises(AssertionError, match="cannot be reached"):
        tab_to(web.page, "#skipped", max_presses=6)
