"""A run's target list, read when it starts, inside its deadline: an S3 object (with the run's
store clients) or a sitemap (through the egress guard, ``fanout.fetch.sitemap``).

Both kinds are behind one call, ``read_targets``, bounded by ``before``, so the run reads
either the same way and reports either failure as ``TargetsUnreadable``.
"""

from __future__ import annotations

from fanout.aws.reports import read_object
from fanout.config import Settings
from fanout.core.requests import FanoutRequest, TargetsRequest
from fanout.core.targets import parse_target_list, request_for, split_s3_uri
from fanout.errors import StoreError, TargetsUnreadable
from fanout.fetch.sitemap import read_sitemap
from fanout.runs.stores import RunStores


async def read_targets(
    stores: RunStores, request: TargetsRequest, settings: Settings, *, before: float
) -> FanoutRequest:
    """The request to run: the list's entries with the request's options (``TargetsUnreadable``)."""
    if request.sitemap is not None:
        pages = await read_sitemap(request.sitemap, settings, before=before)
        return request_for(request, list(pages), settings)
    bucket, key = split_s3_uri(request.targets)
    try:
        body = await read_object(
            stores.clients, bucket, key, max_bytes=settings.max_targets_bytes, before=before
        )
    except StoreError as exc:
        raise TargetsUnreadable(request.targets, f"cannot be read ({exc.error_type}): {exc}") from None
    entries = parse_target_list(request.targets, body, max_urls=settings.max_urls)
    return request_for(request, entries, settings)
