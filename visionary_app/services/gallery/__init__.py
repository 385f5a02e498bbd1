"""The images people keep: the index, search, curation, the live feed, thumbnails, the mirror."""

from visionary_app.services.gallery.archive import (
    MAX_ZIP_IMAGES,
    TicketInvalid,
    archive_name,
    check_ticket,
    parse_ids,
    sign_ticket,
    zip_images,
)
from visionary_app.services.gallery.boards import (
    MAX_BOARD_NAME_CHARS,
    BoardChange,
    BoardRefused,
    Boards,
)
from visionary_app.services.gallery.catalog import (
    Catalog,
    CatalogError,
    PageCursor,
    make_index_engine,
)
from visionary_app.services.gallery.credentials import ContentCredentials, read_credentials
from visionary_app.services.gallery.curation import (
    DeleteFailed,
    LibraryNotSaved,
    VisibilityNotChanged,
    change_visibility,
    delete_image,
    download_filename,
    keep_library,
    star,
)
from visionary_app.services.gallery.live_feed import Change, ChangeKind, LiveFeed, make_feed
from visionary_app.services.gallery.mirror import (
    DEFAULT_GRACE,
    MAX_REMOVED_SHARE,
    SyncRefused,
    SyncReport,
    reconcile,
)
from visionary_app.services.gallery.search_index import MAX_QUERY_CHARS, clean_query, search_terms
from visionary_app.services.gallery.sharing import (
    Expiry,
    LinkGone,
    Shared,
    ShareLinks,
    ShareRefused,
)
from visionary_app.services.gallery.thumbnails import make_thumbnail, preview_data_url

__all__ = [
    "DEFAULT_GRACE",
    "MAX_BOARD_NAME_CHARS",
    "MAX_QUERY_CHARS",
    "MAX_REMOVED_SHARE",
    "MAX_ZIP_IMAGES",
    "BoardChange",
    "BoardRefused",
    "Boards",
    "Catalog",
    "CatalogError",
    "Change",
    "ChangeKind",
    "ContentCredentials",
    "DeleteFailed",
    "Expiry",
    "LibraryNotSaved",
    "LinkGone",
    "LiveFeed",
    "PageCursor",
    "ShareLinks",
    "ShareRefused",
    "Shared",
    "SyncRefused",
    "SyncReport",
    "TicketInvalid",
    "VisibilityNotChanged",
    "archive_name",
    "change_visibility",
    "check_ticket",
    "clean_query",
    "delete_image",
    "download_filename",
    "keep_library",
    "make_feed",
    "make_index_engine",
    "make_thumbnail",
    "parse_ids",
    "preview_data_url",
    "read_credentials",
    "reconcile",
    "search_terms",
    "sign_ticket",
    "star",
    "zip_images",
]
