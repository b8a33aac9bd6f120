"""Reading a whole collection from the Prefect API, one page at a time.

The server answers a read with at most `PREFECT_SERVER_API_DEFAULT_LIMIT` rows (200 unless its
operator changed it) and refuses a larger limit, so a read without paging silently stops at the
first page: beyond ~200 deployments opsbinder once saw hundreds of false differences. Every
collection read in this adapter goes through here. No limit is sent, so the page size is
whatever the server allows; a page shorter than the longest one seen (or an empty one) ends it.

`read(offset)` must sort on something total (an id, or a name unique within its filter) or rows
could move between pages; `key` drops the repeats a concurrent insert would cause.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class Pages(Generic[T]):
    """The rows gathered so far and whether another page is needed."""

    def __init__(self, key: Callable[[T], Hashable], most: int | None) -> None:
        self.key, self.most = key, most
        self.rows: list[T] = []
        self.seen: set[Hashable] = set()
        self.offset = self.longest = 0
        self.done = most is not None and most <= 0

    def take(self, page: Sequence[T]) -> None:
        for row in page:
            if self.key(row) not in self.seen:
                self.seen.add(self.key(row))
                self.rows.append(row)
        self.offset += len(page)
        self.longest = max(self.longest, len(page))
        full = self.most is not None and len(self.rows) >= self.most
        self.done = full or not page or len(page) < self.longest

    def result(self) -> list[T]:
        return self.rows if self.most is None else self.rows[: self.most]


async def every_page(
    read: Callable[[int], Awaitable[Sequence[T]]],
    key: Callable[[T], Hashable],
    *,
    most: int | None = None,
) -> list[T]:
    """All rows `read(offset)` yields, in the server's order, each once; at most `most`."""
    pages: Pages[T] = Pages(key, most)
    while not pages.done:
        pages.take(await read(pages.offset))
    return pages.result()


def every_page_sync(
    read: Callable[[int], Sequence[T]],
    key: Callable[[T], Hashable],
    *,
    most: int | None = None,
) -> list[T]:
    """`every_page` for the synchronous client."""
    pages: Pages[T] = Pages(key, most)
    while not pages.done:
        pages.take(read(pages.offset))
    return pages.result()
