"""Changelists that stay fast on tables with tens of millions of rows.

Django's changelist counts every row (``COUNT(*)``), pages with ``OFFSET`` and builds the date
hierarchy with ``SELECT DISTINCT date_trunc(...)``; each reads the whole table. ``FastAdminMixin``
replaces the three:

- Counting: an unfiltered list shows the planner's estimate (``pg_class.reltuples``, "about
  1,000,000"); a filtered one counts at most ``count_cap`` rows
  (``SELECT count(*) FROM (SELECT ... LIMIT 10001)``, "10,000+"). Small tables are counted
  exactly, also when their statistics are missing.
- Paging: when the list is ordered by the primary key (the default here, ``-id``), the "Next"
  link carries the last id shown (``?cursor=<id>``) and the next page is
  ``WHERE id < <cursor> ORDER BY id DESC LIMIT n``: an index range scan however deep. Sorted by
  another column, "Previous"/"Next" fall back to page numbers (``OFFSET``); the UI never offers
  jumps to far pages. Filter, search and sort links start again from the top.
- The date hierarchy finds its years, months and days with indexed ``MIN()`` probes (a loose
  index scan), and a list narrowed to a date period is ordered by that date, so the database
  walks the date index instead of the whole table by id.

Facet counts (Django's "Show counts") are off: each would be a full count per filter choice.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.views.main import ALL_VAR, ChangeList
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db import connections
from django.db.models import Min, QuerySet
from django.template.loader import select_template
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

CURSOR_VAR = "cursor"
COUNT_CAP = 10_000


class FastPaginator(Paginator):
    """Counts cheaply (estimate or capped count) and serves any page without validating it
    against the (approximate) total."""

    count_cap = COUNT_CAP

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.count_is_estimate = False
        self.count_is_capped = False
        self.count_limit = self.count_cap

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not queryset.query.where:
            estimate = self._estimate(queryset)
            if estimate > self.count_cap:
                self.count_is_estimate = True
                return estimate
        # Past the cap the list must still page (and not offer "Show all"): one row more.
        self.count_limit = max(self.count_cap, self.per_page)
        counted = queryset.order_by().values("pk")[: self.count_limit + 1].count()
        self.count_is_capped = counted > self.count_limit
        return counted

    @staticmethod
    def _estimate(queryset: QuerySet) -> int:
        with connections[queryset.db].cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [queryset.model._meta.db_table],
            )
            row = cursor.fetchone()
        return max(int(row[0]) if row else 0, 0)

    def validate_number(self, number):
        try:
            return max(int(number), 1)
        except (TypeError, ValueError):
            return 1

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        return Page(self.object_list[bottom : bottom + self.per_page], number, self)


def _pk_direction(ordering, opts) -> str | None:
    """'desc'/'asc' when the list is ordered by the primary key alone, else None."""
    if not ordering or not all(isinstance(term, str) for term in ordering):
        return None
    pk_names = ("pk", opts.pk.name, opts.pk.attname)
    # The admin's ordering may come twice (ModelAdmin.get_queryset and ChangeList both add it).
    terms = {("-" if t.startswith("-") else "", "pk" if t.lstrip("-") in pk_names else t)
             for t in ordering}  # fmt: skip
    if len(terms) != 1:
        return None
    sign, name = terms.pop()
    if name != "pk":
        return None
    return "desc" if sign else "asc"


class FastChangeList(ChangeList):
    def __init__(self, request, *args, **kwargs):
        raw = request.GET.get(CURSOR_VAR)
        self.cursor = None
        if raw:
            try:
                self.cursor = args[0]._meta.pk.to_python(raw)
            except ValidationError:
                self.cursor = None
        self.keyset = None
        super().__init__(request, *args, **kwargs)
        # Links to filters, sorts and the search start again from the top.
        self.params.pop(CURSOR_VAR, None)
        self.filter_params.pop(CURSOR_VAR, None)
        self._set_navigation()

    def get_filters_params(self, params=None):
        lookup_params = super().get_filters_params(params)
        lookup_params.pop(CURSOR_VAR, None)
        return lookup_params

    def get_query_string(self, new_params=None, remove=None):
        new_params = dict(new_params or {})
        new_params.setdefault(CURSOR_VAR, None)
        return super().get_query_string(new_params, remove)

    def get_ordering(self, request, queryset):
        ordering = super().get_ordering(request, queryset)
        field = self.date_hierarchy
        narrowed = field and any(k.startswith(f"{field}__") for k in self.params)
        if narrowed and "__" not in field and not self.params.get("o"):
            # Within a period the date index gives the order; ``-id`` would walk the table.
            return [f"-{field}", "-pk"]
        return ordering

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        self.keyset = _pk_direction(queryset.query.order_by, self.opts)
        if self.cursor is not None and self.keyset:
            lookup = "pk__lt" if self.keyset == "desc" else "pk__gt"
            queryset = queryset.filter(**{lookup: self.cursor})
        return queryset

    def _set_navigation(self) -> None:
        rows = self.result_list
        full = self.multi_page and not (self.show_all and self.can_show_all)
        on_later_page = self.page_num > 1 or (self.cursor is not None and self.keyset)
        # ``p`` is already out of the params (ChangeList drops it), the cursor goes by default.
        self.first_page_url = self.get_query_string() if on_later_page else ""
        self.previous_page_url = ""
        self.next_page_url = ""
        if self.page_num > 1 and not self.keyset:
            self.previous_page_url = self.get_query_string({"p": self.page_num - 1})
        if full and len(rows) == self.list_per_page:
            if self.keyset:
                last = rows[len(rows) - 1].pk
                self.next_page_url = self.get_query_string({CURSOR_VAR: last})
            else:
                self.next_page_url = self.get_query_string({"p": self.page_num + 1})
        self.show_all_url = ""
        if self.can_show_all and not self.show_all and self.multi_page:
            self.show_all_url = self.get_query_string({ALL_VAR: ""})

    @property
    def result_count_display(self) -> str:
        count = number_format(self.result_count, force_grouping=True)
        if getattr(self.paginator, "count_is_estimate", False):
            return _("about %(count)s") % {"count": count}
        if getattr(self.paginator, "count_is_capped", False):
            return f"{number_format(self.paginator.count_limit, force_grouping=True)}+"
        return count


class IndexedDatesQuerySet(QuerySet):
    """``dates()``/``datetimes()`` for the date hierarchy without ``SELECT DISTINCT
    date_trunc(...)`` over the whole table: one indexed MIN() per period that has rows."""

    def dates(self, field_name, kind, order="ASC"):
        if kind not in ("year", "month", "day"):
            return super().dates(field_name, kind, order)
        return self._periods(field_name, kind, order, lambda d: d)

    def datetimes(self, field_name, kind, order="ASC", tzinfo=None):
        if kind not in ("year", "month", "day"):
            return super().datetimes(field_name, kind, order, tzinfo)
        zone = tzinfo or timezone.get_current_timezone()

        def start(day: dt.date) -> dt.datetime:
            return dt.datetime(day.year, day.month, day.day, tzinfo=zone)

        return self._periods(field_name, kind, order, start, local=zone)

    def _periods(self, field_name, kind, order, to_value, local=None):
        found = []
        current = self.aggregate(first=Min(field_name))["first"]
        # A loose index scan: from each period found, jump to the first row after it.
        while current is not None:
            if local is not None:
                current = current.astimezone(local)
            day = dt.date(
                current.year,
                1 if kind == "year" else current.month,
                current.day if kind == "day" else 1,
            )
            found.append(to_value(day))
            if kind == "year":
                following = dt.date(day.year + 1, 1, 1)
            elif kind == "month":
                following = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
            else:
                following = day + dt.timedelta(days=1)
            current = self.filter(**{f"{field_name}__gte": to_value(following)}).aggregate(
                first=Min(field_name)
            )["first"]
        return found if order == "ASC" else found[::-1]


class FastAdminMixin:
    """Put first in the bases: ``class InvoiceAdmin(FastAdminMixin, admin.ModelAdmin)``.

    Order big lists by ``-id`` (``ordering = ("-id",)``) to get keyset paging."""

    paginator = FastPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 100
    change_list_template = "admin/common/fast_change_list.html"

    def get_changelist(self, request, **kwargs):
        return FastChangeList

    @admin.display(description=mark_safe('<input type="checkbox" id="action-toggle">'))
    def action_checkbox(self, obj):
        # Django renders each row's checkbox through the form-widget templates, a quarter of
        # a 100-row page's time; the markup is fixed, so write it directly.
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            obj.pk,
            _("Select this object for an action - %(obj)s") % {"obj": obj},
        )

    def get_queryset(self, request):
        queryset = super().get_queryset(request)._chain()
        if type(queryset) is QuerySet:
            queryset.__class__ = IndexedDatesQuerySet  # adds no state: only the dates differ
        return queryset

    def changelist_view(self, request, extra_context=None):
        opts = self.model._meta
        base = select_template(
            [
                f"admin/{opts.app_label}/{opts.model_name}/change_list.html",
                f"admin/{opts.app_label}/change_list.html",
                "admin/change_list.html",
            ]
        )
        extra_context = {**(extra_context or {}), "fast_base_change_list": base}
        return super().changelist_view(request, extra_context)
