"""The prompt box: Enter generates, Shift+Enter adds a line."""

from __future__ import annotations

import reflex as rx

from visionary_app.state.generation import GenerationState


def _counter() -> rx.Component:
    over = GenerationState.prompt_length > GenerationState.prompt_limit
    return rx.text(
        GenerationState.prompt_length.to_string(),
        " / ",
        GenerationState.prompt_limit.to_string(),
        rx.cond(over, " (too long)", ""),
        size="1",
        color_scheme=rx.cond(over, "red", "gray"),
        id="prompt-counter",
        aria_live="polite",
    )


def prompt_form() -> rx.Component:
    """Prompt textarea and the Generate button, submitted as a form."""
    return rx.form(
        rx.vstack(
            rx.text_area(
                id="prompt-input",
                name="prompt",
                value=GenerationState.prompt,
                on_change=GenerationState.set_prompt,
                placeholder="Describe an image… (Enter to generate, Shift+Enter for a new line)",
                enter_key_submit=True,
                auto_height=True,
                rows="3",
                size="3",
                width="100%",
                aria_label="Prompt",
            ),
            rx.hstack(
                _counter(),
                rx.spacer(),
                rx.button(
                    rx.icon("wand-sparkles", size=18),
                    "Generate",
                    id="generate-button",
                    type="submit",
                    size="3",
                    disabled=GenerationState.prompt.strip() == "",
                ),
                width="100%",
                align="center",
            ),
            width="100%",
            spacing="2",
        ),
        on_submit=GenerationState.generate,
        reset_on_submit=False,
        width="100%",
    )
