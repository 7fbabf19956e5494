"""The chart of accounts, so the admin shows it before the first posting."""

from ledger.chart import ensure_chart


def seed(*, out) -> None:
    codes = ensure_chart()
    out.write(f"ledger: chart of accounts ready ({len(codes)} accounts)")
