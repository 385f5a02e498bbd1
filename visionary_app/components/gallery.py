"""The gallery grid: running jobs first, then images newest first, the newest one larger."""

from __future__ import annotations

import reflex as rx

from visionary_app.components.boards import board_bar
from visionary_app.components.media import backend_resolved, renewable_image
from visionary_app.components.selection import selection_bar
from visionary_app.services.gallery import MAX_QUERY_CHARS
from visionary_app.state.gallery import GalleryState, GalleryTile
from visionary_app.state.generation import GenerationState, JobCard
from visionary_app.state.lightbox import LightboxState
from visionary_app.state.selection import SelectionState

# Near either end of the window an observer presses "Load newer" / "Load more" (Reflex has
# no scroll-into-view API). Where the end is now decides, not where the observer last saw it:
# its first report, taken before the first page was drawn, would load a second page at once.
# Not while a page loads (the buttons say aria-busy): the far end's button, pressed then,
# would undo the page coming in.
_OBSERVE_ENDS = (
    "const o=new IntersectionObserver(es=>es.forEach(e=>{const r=e.target"
    ".getBoundingClientRect(),b=document.getElementById(e.target.id==='gallery-end'?"
    "'load-more':'load-newer');if(b&&b.getAttribute('aria-busy')!=='true'&&e.isIntersecting"
    "&&r.top<innerHeight+800&&r.bottom>-800)b.click()}),{rootMargin:'800px'});"
    "['gallery-start','gallery-end'].forEach(i=>o.observe(document.getElementById(i)))"
)
# How often an open gallery looks for images made elsewhere and re-reads its jobs.
_RETRY_MS = 3000
# Two columns even on the narrowest phone: more of the gallery per screen, as photo apps do,
# and the page itself (not one full-width picture that arrives last) is its largest paint.
_COLUMNS = rx.breakpoints(initial="2", md="3", lg="4", xl="5")


def job_card(job: JobCard) -> rx.Component:
    """Placeholder for an image on its way: its place in the queue or its time so far."""
    running = job.status == "running"
    return rx.card(
        rx.vstack(
            rx.cond(
                job.preview != "",
                # The latest partial image while it forms; the finished tile replaces it.
                rx.image(
                    src=job.preview,
                    alt="The image as it forms",
                    width="100%",
                    height="11em",
                    custom_attrs={"data-testid": "partial-preview"},
                    style={"object_fit": "cover", "border_radius": "var(--radius-2)"},
                ),
                rx.skeleton(width="100%", height="11em", loading=True),
            ),
            rx.hstack(
                rx.spinner(size="2", loading=running),
                rx.text(
                    rx.cond(
                        running, rx.cond(job.kind == "edited", "Editing…", "Generating…"), "Queued"
                    ),
                    size="2",
                    weight="medium",
                ),
                rx.text(job.detail, size="2", color_scheme="gray", class_name="job-detail"),
                rx.spacer(),
                rx.button(
                    "Cancel",
                    on_click=GenerationState.cancel_job(job.job_id),
                    loading=job.cancelling,
                    variant="soft",
                    color_scheme="gray",
                    size="1",
                    class_name="job-cancel",
                ),
                width="100%",
                align="center",
            ),
            rx.text(job.prompt, size="2", class_name="job-prompt", style=_clamp(2)),
            spacing="2",
        ),
        custom_attrs={"data-testid": "job-card", "data-status": job.status},
        aria_busy="true",
    )


def _star(tile: GalleryTile) -> rx.Component:
    # A plain button drawn by _GRID_STYLE (amber, solid when starred), like the rest of the tile.
    return rx.el.button(
        rx.icon("star", size=16, aria_hidden="true"),
        on_click=[GalleryState.toggle_favourite(tile.id), rx.stop_propagation],
        type="button",
        class_name="tile-star",
        aria_label=rx.cond(tile.favourite, "Remove from favourites", "Add to favourites"),
        aria_pressed=tile.favourite,
        custom_attrs={"data-favourite": rx.cond(tile.favourite, "true", "false")},
    )


def _select(tile: GalleryTile) -> rx.Component:
    # Space or a click ticks it; with shift, every tile from the last one ticked.
    return rx.el.input(
        type="checkbox",
        checked=SelectionState.selected.contains(tile.id),
        read_only=True,  # the state decides; a click asks it
        on_click=lambda info: SelectionState.toggle(tile.id, info),
        class_name="tile-select",
        aria_label="Select: " + tile.prompt,
        custom_attrs={"data-testid": "tile-select"},
    )


def gallery_tile(tile: GalleryTile, index: rx.Var[int]) -> rx.Component:
    """One thumbnail; its prompt shows on hover or focus; click or Enter opens the lightbox.

    Plain elements styled by class from the grid's one stylesheet (_GRID_STYLE): a tile is
    drawn up to 96 times on every page of the gallery, and per-element styles cost each of
    them a style computation in the browser.
    """
    return rx.el.div(
        rx.el.button(
            renewable_image(
                src=backend_resolved(tile.url),
                on_error=GalleryState.image_failed(tile.id),
                # The button around it is named by the prompt; the picture adds no words.
                alt="",
                # HTML attributes (not CSS) so the browser reserves the box before loading.
                # The first tile is the largest thing on the first screen: fetch it first.
                custom_attrs={
                    "width": tile.width,
                    "height": tile.height,
                    "fetchPriority": rx.cond(index == 0, "high", "auto"),
                },
                loading=rx.cond(index < 4, "eager", "lazy"),
                decoding="async",
                class_name="tile-image",
            ),
            rx.el.div(
                rx.el.p(tile.prompt, class_name="tile-prompt"),
                rx.cond(
                    tile.revised_prompt != "",
                    rx.el.p(
                        rx.el.em("Revised by the model: "),
                        rx.el.span(tile.revised_prompt, class_name="tile-revised-prompt"),
                        class_name="tile-revised",
                    ),
                ),
                class_name="tile-caption",
            ),
            type="button",
            on_click=LightboxState.open_image(tile.id),
            id=f"tile-{tile.id}",
            class_name="tile-open",
            aria_label=tile.prompt,
        ),
        _star(tile),
        _select(tile),
        key=tile.id,
        custom_attrs={
            "data-testid": "gallery-item",
            "data-image-id": tile.id,
            "data-featured": rx.cond(index == 0, "true", "false"),
        },
        class_name="gallery-item",
    )


def _clamp(lines: int) -> dict:
    """Cut text to `lines` lines with an ellipsis, breaking long words anywhere."""
    return {
        "display": "-webkit-box",
        "-webkit-line-clamp": str(lines),
        "-webkit-box-orient": "vertical",
        "overflow": "hidden",
        "white-space": "pre-wrap",
        "overflow-wrap": "anywhere",
    }


_GRID_STYLE = {
    ".gallery-item": {
        "position": "relative",
        "aspect_ratio": "1",
        "overflow": "hidden",
        "border_radius": "var(--radius-4)",
        "background": "var(--gray-a3)",
        "outline_offset": "2px",
    },
    ".tile-caption": {
        "position": "absolute",
        "inset": "auto 0 0 0",
        "padding": "0.75em",
        "color": "white",
        "background": "linear-gradient(transparent, rgba(0,0,0,0.8))",
        "opacity": "0",
        "transition": "opacity 150ms ease",
    },
    ".gallery-item:hover .tile-caption, .gallery-item:focus-within .tile-caption": {
        "opacity": "1",
    },
    ".tile-open": {
        "all": "unset",
        "display": "block",
        "width": "100%",
        "height": "100%",
        "cursor": "zoom-in",
    },
    # `all: unset` above removes the browser's ring; draw one inside the tile's rounded box.
    ".tile-open:focus-visible": {
        "outline": "2px solid var(--accent-9)",
        "outline_offset": "-4px",
        "border_radius": "var(--radius-4)",
    },
    # Absolute, so the picture fills the square tile whatever its own size.
    ".tile-image": {
        "position": "absolute",
        "inset": "0",
        "width": "100%",
        "height": "100%",
        "object_fit": "cover",
    },
    ".tile-prompt": {
        "font_size": "var(--font-size-2)",
        "line_height": "var(--line-height-2)",
        **_clamp(4),
    },
    ".tile-revised": {
        "font_size": "var(--font-size-1)",
        "line_height": "var(--line-height-1)",
        **_clamp(3),
    },
    ".tile-star": {
        "all": "unset",
        "position": "absolute",
        "top": "0.5em",
        "right": "0.5em",
        "display": "flex",
        "padding": "6px",
        "border_radius": "var(--radius-2)",
        "color": "var(--amber-11)",
        "background": "var(--amber-3)",
        "cursor": "pointer",
    },
    ".tile-star:hover": {"background": "var(--amber-4)"},
    ".tile-star:focus-visible": {"outline": "2px solid var(--amber-8)", "outline_offset": "2px"},
    ".tile-star[data-favourite='true']": {
        "color": "var(--amber-contrast)",
        "background": "var(--amber-9)",
    },
    ".tile-star[data-favourite='true'] svg": {"fill": "currentColor"},
    # A real checkbox, large enough for a thumb, on the tile's top left.
    ".tile-select": {
        "position": "absolute",
        "top": "0.5em",
        "left": "0.5em",
        "width": "24px",
        "height": "24px",
        "margin": "0",
        "accent_color": "var(--accent-9)",
        "cursor": "pointer",
    },
    ".tile-select:focus-visible": {"outline": "2px solid var(--accent-8)", "outline_offset": "2px"},
    "@media (min-width: 520px)": {
        "[data-featured='true']": {"grid_column": "span 2", "grid_row": "span 2"},
    },
}


def _paging_button(label: str, shown: rx.Var[bool], handler, element_id: str) -> rx.Component:
    """The "Load newer" (above the window) or "Load more" (below it) button, while there is more."""
    # Busy, not disabled: a disabled button drops the keyboard's focus to the page's top, and
    # a press while a page loads is handled once that page is in.
    return rx.cond(
        shown,
        rx.button(
            rx.cond(GalleryState.loading, rx.spinner(size="1")),
            label,
            on_click=handler,
            aria_busy=GalleryState.loading,
            variant="soft",
            id=element_id,
            width="100%",
        ),
    )


def gallery() -> rx.Component:
    """The grid with its toolbar, loaded when the page loads."""
    return rx.vstack(
        rx.flex(
            rx.heading("Gallery", size="5", as_="h2", flex_grow="1"),
            rx.flex(
                rx.input(
                    rx.input.slot(rx.icon("search", size=16)),
                    placeholder="Search prompts",
                    value=GalleryState.search,
                    on_change=GalleryState.set_search,
                    debounce_timeout=300,
                    type="search",
                    id="gallery-search",
                    max_length=MAX_QUERY_CHARS,
                    aria_label="Search prompts",
                    flex="1 1 12em",
                    max_width="24em",
                ),
                rx.segmented_control.root(
                    rx.segmented_control.item("Everyone", value="everyone"),
                    rx.segmented_control.item("Mine", value="mine"),
                    value=GalleryState.scope,
                    on_change=GalleryState.set_scope,
                    id="gallery-scope",
                    aria_label="Whose images",
                    size="1",
                ),
                rx.hstack(
                    rx.text("Favourites only", size="2", as_="label", html_for="favourites-only"),
                    rx.switch(
                        id="favourites-only",
                        aria_label="Favourites only",
                        checked=GalleryState.favourites_only,
                        on_change=GalleryState.set_favourites_only,
                    ),
                    rx.icon_button(
                        rx.icon("refresh-cw", size=18),
                        on_click=GalleryState.load,
                        loading=GalleryState.loading,
                        variant="soft",
                        aria_label="Refresh gallery",
                        title="Refresh gallery",
                        id="refresh-gallery",
                    ),
                    align="center",
                ),
                wrap="wrap",
                gap="3",
                align="center",
                justify="end",
                flex="1 1 20em",
            ),
            wrap="wrap",
            gap="3",
            width="100%",
            align="center",
        ),
        board_bar(),
        selection_bar(),
        # Ticks in the browser; the server renews image URLs before they expire.
        rx.moment(
            interval=GalleryState.renew_check_ms,
            on_change=GalleryState.renew_urls,
            display="none",
        ),
        # New images and job changes are pushed (state/live.py); only a gallery that failed
        # to load asks again, until the index answers.
        rx.cond(
            GalleryState.load_error != "",
            rx.moment(interval=_RETRY_MS, on_change=GalleryState.check_new, display="none"),
        ),
        rx.box(id="gallery-start", height="1px"),
        _paging_button("Load newer", GalleryState.has_newer, GalleryState.load_newer, "load-newer"),
        rx.grid(
            rx.foreach(GenerationState.jobs, job_card),
            rx.foreach(GalleryState.images, gallery_tile),
            columns=_COLUMNS,
            spacing="3",
            width="100%",
            id="gallery",
            style=_GRID_STYLE,
            custom_attrs={"data-loaded": rx.cond(GalleryState.loaded, "true", "false")},
        ),
        _paging_button("Load more", GalleryState.has_more, GalleryState.load_more, "load-more"),
        rx.box(id="gallery-end", height="1px", on_mount=rx.call_script(_OBSERVE_ENDS)),
        rx.cond(
            (GalleryState.images.length() == 0)
            & (GenerationState.jobs.length() == 0)
            & ~GalleryState.loading,
            rx.text(
                rx.cond(
                    GalleryState.search.strip() != "",
                    "No image matches that search.",
                    rx.cond(
                        GalleryState.favourites_only,
                        "No favourites yet: star an image to keep it here.",
                        "No images yet. Type a prompt above and press Enter.",
                    ),
                ),
                color_scheme="gray",
                id="gallery-empty",
            ),
        ),
        width="100%",
        spacing="3",
    )
