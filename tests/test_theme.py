"""Every colour the pages use is one the lean Radix stylesheet ships (visionary_app/theme.py)."""

import re

import pytest

from visionary_app.pages.sign_in import sign_in_page
from visionary_app.pages.studio import studio_page
from visionary_app.theme import COLORS

# Every Radix colour scale (the files in @radix-ui/themes/tokens/colors).
RADIX_COLORS = set(
    "amber blue bronze brown crimson cyan gold grass gray green indigo iris jade lime mauve "
    "mint olive orange pink plum purple red ruby sage sand sky slate teal tomato violet "
    "yellow".split()
)
# A colour scheme prop (color:"red"), an accent attribute, or a CSS variable (--amber-9).
_USES = (
    re.compile(r'\bcolor:"([a-z]+)"'),
    re.compile(r'accent-color"?:"([a-z]+)"'),
    re.compile(r"--([a-z]+)-(?:a?\d+|contrast|surface|indicator|track)\b"),
)


def colours_used(code: str) -> set[str]:
    """The Radix colour names a page's compiled code refers to."""
    return {name for pattern in _USES for name in pattern.findall(code)} & RADIX_COLORS


@pytest.mark.parametrize("page", [studio_page, sign_in_page])
def test_every_colour_a_page_uses_is_shipped(page):
    used = colours_used(str(page()))
    assert used, "the pattern found no colours at all: it no longer matches the compiled code"
    assert used <= set(COLORS), f"add {sorted(used - set(COLORS))} to theme.COLORS"


def test_the_check_sees_a_colour_that_is_not_shipped():
    assert colours_used('jsx(Badge,{color:"green"}) css:{color:"var(--tomato-9)"}') == {
        "green",
        "tomato",
    }
