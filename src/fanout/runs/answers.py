"""An answer too large to return points at its stored report instead (a presigned URL)."""

from __future__ import annotations

from fanout.config import Settings
from fanout.core.answers import Answer, fit, size_of
from fanout.errors import StoreError
from fanout.observability.log import logger
from fanout.runs.stores import RunStores


async def fit_with_pointer(
    answer: Answer, stores: RunStores, settings: Settings, *, report_key: str | None, before: float
) -> Answer:
    """``answer``, or when too large to return, a link to its stored report (``report_key``), or
    without one, the results cut to fit."""
    size = size_of(answer)
    if size <= settings.max_answer_bytes:
        return answer
    url = None
    if report_key is not None and stores.reports is not None:
        try:
            url = await stores.reports.presign(report_key, settings.report_url_expires_s, before)
        except StoreError as exc:
            logger.warning("report URL not signed", extra={"error": str(exc)})
    return fit(
        answer,
        limit_bytes=settings.max_answer_bytes,
        report_url=url,
        url_expires_s=settings.report_url_expires_s,
        size=size,
    )
