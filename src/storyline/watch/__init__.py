"""``storyline watch``: poll RSS/Atom feeds and process new articles into a store as they appear.

Modules: ``feedlist`` (the FEEDS file: URLs or OPML), ``http`` (conditional GET, per-host
politeness, quick retries, on top of ingest's checked fetcher), ``state`` (feed validators,
schedule, failures and seen entries, in the store's database), ``watcher`` (the polling loop).
"""

from .feedlist import FeedListError, read_feed_list
from .watcher import Watcher, watch

__all__ = ["FeedListError", "Watcher", "read_feed_list", "watch"]
