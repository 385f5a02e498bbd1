"""The prompt box: Enter generates, Shift+Enter adds a line."""

from __future__ import annotations

import reflex as rx

from visionary_app.components.picture_upload import picture_upload
from visionary_app.services.generation import MAX_PRESET_NAME_CHARS, MAX_PRESET_WORDS_CHARS
from visionary_app.state.generation import GenerationState
from visionary_app.state.options import CUSTOM, OptionsState
from visionary_app.state.presets import NO_PRESET, PresetsState
from visionary_app.state.prompt_history import PromptHistoryState
from visionary_app.state.suggestions import SuggestionState
from visionary_app.state.uploads import UPLOAD_ID, UploadState


def _option(label: str | rx.Var, element_id: str, items, value, on_change) -> rx.Component:
    # Built from its parts so the trigger (the button people press) carries the name.
    return rx.hstack(
        rx.text(label, size="1", color_scheme="gray", as_="label", html_for=element_id),
        rx.select.root(
            rx.select.trigger(id=element_id, aria_label=label),
            rx.select.content(rx.foreach(items, lambda item: rx.select.item(item, value=item))),
            value=value,
            on_change=on_change,
            size="1",
        ),
        align="center",
        spacing="1",
    )


def model_select() -> rx.Component:
    """Every configured model as "Provider · model"; the options below follow the choice."""
    return rx.hstack(
        rx.text("Model", size="1", color_scheme="gray", as_="label", html_for="model-select"),
        rx.select.root(
            rx.select.trigger(id="model-select", aria_label="Model"),
            rx.select.content(
                rx.foreach(
                    OptionsState.models,
                    lambda entry: rx.select.item(entry[1], value=entry[0]),
                )
            ),
            value=OptionsState.selected_model,
            on_change=OptionsState.set_model,
            size="1",
        ),
        align="center",
        spacing="1",
    )


def _custom_size() -> rx.Component:
    """WIDTHxHEIGHT for a model that takes any size within its rules; says what is wrong."""
    problem = OptionsState.custom_size_problem
    return rx.hstack(
        rx.input(
            value=OptionsState.custom_size,
            on_change=OptionsState.set_custom_size,
            placeholder="1536x864",
            aria_label="Custom size, width x height in pixels",
            aria_invalid=rx.cond(problem != "", "true", "false"),
            aria_describedby="option-size-problem",
            id="option-size-custom",
            size="1",
            width="8em",
        ),
        rx.text(problem, size="1", color_scheme="red", id="option-size-problem",
                aria_live="polite"),
        align="center",
        spacing="2",
    )  # fmt: skip


# On a phone the actions under the prompt are icons in one row, Generate last, under the
# thumb; each keeps its name for assistive technology (aria-label) and a tooltip (title).
_ACTION_ROW_STYLE = {
    "@media (max-width: 639px)": {
        ".action-label": {"display": "none"},
        "#prompt-actions": {"flex_wrap": "nowrap", "width": "100%"},
        "#generate-button": {"margin_left": "auto"},
    },
}


def _label(text: str) -> rx.Component:
    return rx.el.span(text, class_name="action-label")


def upload_button() -> rx.Component:
    """Start from your own picture: PNG, JPEG or WebP, checked on the server."""
    return picture_upload(
        rx.button(
            rx.icon("image-up", size=16),
            _label("Upload"),
            type="button",
            variant="soft",
            aria_label="Upload",
            id="upload-button",
            loading=UploadState.uploading,
            title="Upload a picture of your own to edit or vary it",
        ),
        UPLOAD_ID,
        UploadState.upload,
        "Choose a picture to upload",
    )


def preset_select() -> rx.Component:
    """`#style-preset`: no style, the built-in ones, one's own; and saving a new one."""
    return rx.hstack(
        rx.text(
            "Style preset", size="1", color_scheme="gray", as_="label", html_for="style-preset"
        ),
        rx.select.root(
            # A fixed width: the chosen name is drawn only once the page runs, and a trigger
            # that grew then would push everything below it down.
            rx.select.trigger(id="style-preset", aria_label="Style preset", width="8.5em"),
            rx.select.content(
                rx.select.item("No style", value=NO_PRESET),
                rx.foreach(
                    PresetsState.presets,
                    lambda preset: rx.select.item(preset.name, value=preset.name),
                ),
            ),
            value=PresetsState.chosen,
            on_change=PresetsState.choose,
            size="1",
        ),
        rx.popover.root(
            rx.popover.trigger(
                rx.icon_button(
                    rx.icon("plus", size=14),
                    size="1",
                    variant="soft",
                    aria_label="Save a style preset",
                    title="Save a style preset",
                    id="preset-new",
                    type="button",
                )
            ),
            rx.popover.content(
                rx.form(
                    rx.vstack(
                        rx.input(
                            name="name",
                            placeholder="Name",
                            aria_label="Preset name",
                            id="preset-name",
                            max_length=MAX_PRESET_NAME_CHARS,
                            required=True,
                        ),
                        rx.text_area(
                            name="words",
                            placeholder="Words added to each prompt: pastel colours, soft light",
                            aria_label="Preset words",
                            id="preset-words",
                            max_length=MAX_PRESET_WORDS_CHARS,
                            required=True,
                        ),
                        rx.popover.close(rx.button("Save style", type="submit", id="preset-save")),
                        spacing="2",
                    ),
                    on_submit=PresetsState.save,
                    reset_on_submit=True,
                ),
                aria_label="Save a style preset",
            ),
        ),
        rx.text(PresetsState.chosen_words, size="1", color_scheme="gray", id="preset-words-shown"),
        align="center",
        spacing="1",
        on_mount=PresetsState.refresh,
    )


def options_bar() -> rx.Component:
    """Size, quality, style and count: only the ones the configured model supports."""
    return rx.hstack(
        _option(OptionsState.size_label, "option-size", OptionsState.sizes,
                OptionsState.selected_size, OptionsState.set_size),
        rx.cond(OptionsState.selected_size == CUSTOM, _custom_size()),
        rx.cond(
            OptionsState.qualities.length() > 0,
            _option(OptionsState.quality_label, "option-quality", OptionsState.qualities,
                    OptionsState.selected_quality, OptionsState.set_quality),
        ),
        rx.cond(
            OptionsState.styles.length() > 0,
            _option("Style", "option-style", OptionsState.styles, OptionsState.selected_style,
                    OptionsState.set_style),
        ),
        rx.cond(
            OptionsState.backgrounds.length() > 0,
            _option("Background", "option-background", OptionsState.backgrounds,
                    OptionsState.background, OptionsState.set_background),
        ),
        rx.cond(
            OptionsState.complexities.length() > 0,
            _option("Complexity", "option-complexity", OptionsState.complexities,
                    OptionsState.complexity, OptionsState.set_complexity),
        ),
        rx.cond(
            OptionsState.counts.length() > 1,
            _option("Images", "option-count", OptionsState.counts, OptionsState.count,
                    OptionsState.set_count),
        ),
        wrap="wrap",
        spacing="3",
        align="center",
    )  # fmt: skip


def retirement_notice() -> rx.Component:
    """A warning when the configured model is about to be shut down."""
    return rx.cond(
        OptionsState.retirement != "",
        rx.callout.root(
            rx.callout.icon(rx.icon("triangle_alert")),
            rx.callout.text(OptionsState.retirement),
            color_scheme="amber",
            size="1",
            id="model-retirement",
        ),
    )


def suggestion_buttons() -> rx.Component:
    """Let a model (or the offline generator) write the prompt."""
    return rx.hstack(
        rx.button(
            rx.icon("lightbulb", size=16),
            _label("Suggest"),
            aria_label="Suggest",
            type="button",
            variant="soft",
            on_click=SuggestionState.suggest,
            loading=SuggestionState.suggesting,
            id="suggest-button",
            title="Fill the prompt box with a suggested prompt",
        ),
        rx.button(
            rx.icon("dices", size=16),
            _label("Use suggestion"),
            aria_label="Use suggestion",
            type="button",
            variant="soft",
            on_click=SuggestionState.use_suggestion,
            loading=SuggestionState.suggesting,
            id="use-suggestion-button",
            title="Generate straight from a suggested prompt",
        ),
        spacing="2",
        wrap="wrap",
    )


_HISTORY_LIST_STYLE = {
    "padding": "0", "margin": "0", "width": "100%", "max_height": "50vh", "overflow_y": "auto",
}  # fmt: skip


def _history_item(prompt: rx.Var[str]) -> rx.Component:
    return rx.el.li(
        rx.button(
            rx.text(prompt, trim="end", size="2", style={"text_align": "start"}),
            type="button",
            variant="ghost",
            on_click=PromptHistoryState.use(prompt),
            class_name="prompt-history-item",
            width="100%",
            style={"justify_content": "flex-start", "max_width": "100%"},
        ),
        style={"list_style": "none"},
    )


def prompt_history() -> rx.Component:
    """Your earlier prompts, newest first and searchable; one click puts one back."""
    return rx.popover.root(
        rx.popover.trigger(
            rx.button(
                rx.icon("history", size=16),
                _label("History"),
                aria_label="History",
                type="button",
                variant="soft",
                id="prompt-history-button",
                title="Your earlier prompts (or press ↑ in an empty prompt box)",
            )
        ),
        rx.popover.content(
            rx.vstack(
                rx.input(
                    value=PromptHistoryState.search,
                    on_change=PromptHistoryState.set_search.debounce(250),
                    placeholder="Search your prompts",
                    aria_label="Search your earlier prompts",
                    id="prompt-history-search",
                    width="100%",
                ),
                rx.cond(
                    PromptHistoryState.prompts.length() > 0,
                    rx.el.ul(
                        rx.foreach(PromptHistoryState.prompts, _history_item),
                        id="prompt-history",
                        aria_label="Earlier prompts, newest first",
                        style=_HISTORY_LIST_STYLE,
                    ),
                    rx.text("No earlier prompts.", size="2", color_scheme="gray"),
                ),
                spacing="2",
                width="min(480px, 90vw)",
            ),
            aria_label="Your earlier prompts",
        ),
        open=PromptHistoryState.is_open,
        on_open_change=PromptHistoryState.set_open,
    )


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
                on_key_up=PromptHistoryState.recall,
                placeholder="Describe an image… (Enter to generate, Shift+Enter for a new line)",
                enter_key_submit=True,
                auto_height=True,
                rows="3",
                size="3",
                width="100%",
                aria_label="Prompt",
            ),
            model_select(),
            options_bar(),
            # A row of its own: beside the options, it wrapped once their values were drawn.
            preset_select(),
            retirement_notice(),
            rx.flex(
                _counter(),
                rx.cond(
                    GenerationState.budget_left != "",
                    rx.text(
                        GenerationState.budget_left,
                        id="budget-left",
                        size="1",
                        color_scheme="gray",
                    ),
                ),
                rx.text(
                    OptionsState.cost_estimate,
                    id="cost-estimate",
                    size="2",
                    color_scheme="gray",
                    title="What these options should cost (reserved when the job starts)",
                    aria_live="polite",
                    margin_left="auto",
                ),
                wrap="wrap",
                gap="2",
                width="100%",
                align="center",
            ),
            rx.flex(
                upload_button(),
                suggestion_buttons(),
                prompt_history(),
                rx.button(
                    rx.icon("wand-sparkles", size=18),
                    "Generate",
                    id="generate-button",
                    type="submit",
                    size="3",
                    disabled=GenerationState.prompt.strip() == "",
                    margin_left="auto",
                ),
                id="prompt-actions",
                wrap="wrap",
                gap="2",
                align="center",
                width="100%",
            ),
            width="100%",
            spacing="2",
            style=_ACTION_ROW_STYLE,
        ),
        on_submit=GenerationState.generate,
        reset_on_submit=False,
        width="100%",
    )
