"""Staff roles. Each is a Group whose permissions are declared here and applied by a migration.

Permissions are named ``app_label.codename``. A permission that does not exist yet (its app
has not migrated it) is skipped and applied on the next ``roles_apply``: re-applying is harmless.
"""

from __future__ import annotations

ACCOUNTANT = "Accountant"
SUPPORT = "Support"
SUPPORT_LEAD = "Support lead"
GROWTH = "Growth"
RISK = "Risk"
FINANCE_ADMIN = "Finance admin"

ALL_ROLES = [ACCOUNTANT, SUPPORT, SUPPORT_LEAD, GROWTH, RISK, FINANCE_ADMIN]


def _view(*models: str) -> list[str]:
    return [f"{m.split('.')[0]}.view_{m.split('.')[1]}" for m in models]


def _crud(*models: str) -> list[str]:
    out = []
    for m in models:
        app, model = m.split(".")
        out += [f"{app}.{verb}_{model}" for verb in ("view", "add", "change")]
    return out


BUSINESS_MODELS_READ = [
    "accounts.account",
    "accounts.contact",
    "catalog.product",
    "catalog.plan",
    "catalog.price",
    "catalog.subscription",
    "invoices.invoice",
    "invoices.invoiceline",
    "invoices.creditnote",
    "payments.payment",
    "payments.refund",
    "metering.meter",
    "metering.usageevent",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    ACCOUNTANT: [
        *_view(*BUSINESS_MODELS_READ),
        *_view("ledger.ledgeraccount", "ledger.journalentry", "ledger.journalline"),
        *_crud("invoices.invoice", "invoices.creditnote"),
        "invoices.finalize_invoice",
        "invoices.void_invoice",
        "ledger.export_journal",
        "payments.record_manual_payment",
        "payments.view_reconciliation",
        "staff.view_approvalrequest",
    ],
    SUPPORT: [
        *_view(*BUSINESS_MODELS_READ),
        "accounts.change_account",
        "accounts.add_contact",
        "accounts.change_contact",
        "payments.issue_refund",
        "staff.view_approvalrequest",
        "staff.add_approvalrequest",
    ],
    SUPPORT_LEAD: [
        *_view(*BUSINESS_MODELS_READ),
        "metering.void_usageevent",
        "accounts.change_account",
        "accounts.add_contact",
        "accounts.change_contact",
        "payments.issue_refund",
        "staff.view_approvalrequest",
        "staff.add_approvalrequest",
        "staff.decide_approval",
    ],
    GROWTH: [
        *_view("accounts.account", "catalog.plan", "catalog.subscription", "metering.meter"),
        "reports.view_dashboards",
        "reports.export_reports",
    ],
    RISK: [
        *_view(*BUSINESS_MODELS_READ),
        "staff.view_approvalrequest",
    ],
    FINANCE_ADMIN: [
        *_view(*BUSINESS_MODELS_READ),
        *_view("ledger.ledgeraccount", "ledger.journalentry", "ledger.journalline"),
        *_crud("accounts.account", "catalog.product", "catalog.plan", "catalog.price"),
        "catalog.change_subscription",
        *_crud("invoices.invoice", "invoices.creditnote"),
        "invoices.finalize_invoice",
        "invoices.void_invoice",
        "ledger.export_journal",
        "payments.issue_refund",
        "payments.record_manual_payment",
        "payments.view_reconciliation",
        "staff.view_approvalrequest",
        "staff.add_approvalrequest",
        "staff.decide_approval",
        "metering.void_usageevent",
        *_crud("staff.rolelimit"),
        "staff.view_apikey",
        "staff.add_apikey",
        "staff.change_apikey",
    ],
}

# Who may approve what, above the requester's own limit.
APPROVER_ROLES: dict[str, list[str]] = {
    "refund": [SUPPORT_LEAD, FINANCE_ADMIN],
    "credit_note": [FINANCE_ADMIN],
    "write_off": [FINANCE_ADMIN],
}

# Starting limits, loaded once by the migration; afterwards they are data the Finance admin edits.
DEFAULT_LIMITS: list[tuple[str, str, str, int]] = [
    (SUPPORT, "refund", "EUR", 100_00),
    (SUPPORT, "refund", "USD", 100_00),
    (SUPPORT, "refund", "GBP", 100_00),
    (SUPPORT_LEAD, "refund", "EUR", 1_000_00),
    (SUPPORT_LEAD, "refund", "USD", 1_000_00),
    (SUPPORT_LEAD, "refund", "GBP", 1_000_00),
    (FINANCE_ADMIN, "refund", "EUR", 50_000_00),
    (FINANCE_ADMIN, "refund", "USD", 50_000_00),
    (FINANCE_ADMIN, "refund", "GBP", 50_000_00),
]

# The page each role lands on after login.
ROLE_HOME: dict[str, str] = {
    ACCOUNTANT: "staff:home_accountant",
    SUPPORT: "staff:home_support",
    SUPPORT_LEAD: "staff:home_support",
    GROWTH: "staff:home_growth",
    RISK: "staff:home_risk",
    FINANCE_ADMIN: "staff:home_finance",
}


def roles_apply(apps=None, *, with_default_limits: bool = True) -> dict[str, int]:
    """Create the groups and set exactly the declared permissions. Safe to run again."""
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    RoleLimit = apps.get_model("staff", "RoleLimit")
    applied: dict[str, int] = {}
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        found = []
        for perm in perms:
            app_label, codename = perm.split(".")
            p = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if p is not None:
                found.append(p)
        group.permissions.set(found)
        applied[role] = len(found)
    if with_default_limits:
        for role, action, currency, amount in DEFAULT_LIMITS:
            group = Group.objects.get(name=role)
            RoleLimit.objects.get_or_create(
                group=group, action=action, currency=currency, defaults={"amount_minor": amount}
            )
    return applied
