"""The portal's list paging: `page_of` for every list page, and a paginator for long lists
in a fixed order (a province's enterprise ranking).

SQL's OFFSET reads, joins and computes every row it skips, so with Django's Paginator the
middle page of 100,000 ranking rows evaluated the rank lookups and joins of 50,000 rows
(0.5 s) and the last page of all of them. This one picks the page's keys with a narrow query
first (the order's index, no joins, no annotations) and then loads only those rows; and it
reads a page past the middle from the other end of the same order, so no page skips more
than half of the rows.
"""

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest

PAGE_SIZE = 50


def page_of(request: HttpRequest, rows, per_page: int = PAGE_SIZE) -> Page:
    """The page of `rows` the request asks for (?page=); a missing or bad number gives the
    first page, a number past the end the last one."""
    return Paginator(rows, per_page).get_page(request.GET.get("page"))


class TwoEndedPaginator(Paginator):
    def page(self, number):
        rows = self.object_list
        if not isinstance(rows, QuerySet) or not rows.ordered:
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        if bottom > self.count // 2:
            # The same keys read backwards from the end: reverse() flips every ORDER BY term.
            keys = rows.reverse().values("pk")[self.count - top : self.count - bottom]
        else:
            keys = rows.values("pk")[bottom:top]
        # One query: the key sub-select runs first, the outer one keeps the list's order.
        return self._get_page(rows.filter(pk__in=keys), number, self)
