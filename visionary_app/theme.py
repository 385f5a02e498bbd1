"""The Radix Themes look, with only the colour scales and components the app uses.

Radix's `styles.css` carries all 31 colour scales (light, dark and wide-gamut), about a third of
the stylesheet every page must load before it can paint. Radix documents importing the parts
instead; this plugin does that, and leaves the unused components out of the scripts. A colour
used in a component must be listed in `COLORS` (tests/test_theme.py checks the pages).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

ACCENT = "violet"
# Radix pairs each accent with a gray: violet's is mauve (the theme's gray_color="auto").
GRAY = "mauve"
# "gray" is the color_scheme of quiet text; red for errors and danger, amber for favourites.
COLORS = (ACCENT, GRAY, "gray", "red", "amber")


@dataclasses.dataclass
class LeanRadixThemes(rx.plugins.RadixThemesPlugin):
    """Radix Themes from its parts: base tokens, the listed colours, components, utilities."""

    colors: tuple[str, ...] = COLORS

    def get_stylesheet_paths(self, **context: Any) -> tuple[str, ...]:
        """The parts of Radix Themes to import, in the order Radix documents."""
        if not self.enabled:
            return ()
        return (
            "@radix-ui/themes/tokens/base.css",
            *(f"@radix-ui/themes/tokens/colors/{color}.css" for color in self.colors),
            "@radix-ui/themes/components.css",
            "@radix-ui/themes/utilities.css",
        )

    def get_frontend_dependencies(self, **context: Any) -> tuple[str, ...]:
        """Nothing for the global registry of dynamic components, which this app has none of.

        That registry imports all of Radix Themes on every page (every dialog, menu and tab
        component), and keeps the bundler from dropping the unused ones. The components the
        pages use still bring the package in.
        """
        return ()


def theme_plugin() -> LeanRadixThemes:
    """The app's theme: violet accent, large radius."""
    return LeanRadixThemes(theme=rx.theme(accent_color=ACCENT, gray_color=GRAY, radius="large"))
