"""Staff screens: role homes, the approvals queue, role limits."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from common.exceptions import PaydeskError
from staff import roles
from staff.choices import ApprovalStatus
from staff.models import ApprovalRequest, RoleLimit
from staff.services import approval_approve, approval_reject, can_decide


def _role_names(user) -> list[str]:
    return list(user.groups.values_list("name", flat=True))


@login_required
def home(request):
    """Send each person to their role's home page."""
    names = _role_names(request.user)
    for role in roles.ALL_ROLES[::-1]:
        if role in names:
            return redirect(roles.ROLE_HOME[role])
    if request.user.is_superuser:
        return redirect("admin:index")
    return render(request, "staff/no_role.html", status=403)


def _role_home(request, role: str, template: str, **context):
    if role not in _role_names(request.user) and not request.user.is_superuser:
        # Support lead shares the Support home.
        if not (role == roles.SUPPORT and roles.SUPPORT_LEAD in _role_names(request.user)):
            raise PermissionDenied
    pending = ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING)
    context.update(
        role=role,
        approvals_waiting=pending.count()
        if request.user.has_perm("staff.decide_approval")
        else None,
        my_requests=ApprovalRequest.objects.filter(requested_by=request.user)[:5],
    )
    return render(request, template, context)


@login_required
def home_accountant(request):
    return _role_home(request, roles.ACCOUNTANT, "staff/home_accountant.html")


@login_required
def home_support(request):
    return _role_home(request, roles.SUPPORT, "staff/home_support.html")


@login_required
def home_growth(request):
    return _role_home(request, roles.GROWTH, "staff/home_growth.html")


@login_required
def home_risk(request):
    return _role_home(request, roles.RISK, "staff/home_risk.html")


@login_required
def home_finance(request):
    return _role_home(request, roles.FINANCE_ADMIN, "staff/home_finance.html")


@login_required
@permission_required("staff.view_approvalrequest", raise_exception=True)
def approvals(request):
    status = request.GET.get("status", ApprovalStatus.PENDING)
    qs = ApprovalRequest.objects.select_related("requested_by", "decided_by")
    if status != "all":
        qs = qs.filter(status=status)
    if not request.user.has_perm("staff.decide_approval"):
        qs = qs.filter(requested_by=request.user)
    rows = [(a, can_decide(approval=a, user=request.user)) for a in qs[:200]]
    return render(
        request,
        "staff/approvals.html",
        {"rows": rows, "status": status, "statuses": ApprovalStatus.choices},
    )


@login_required
@permission_required("staff.view_approvalrequest", raise_exception=True)
def approval_detail(request, pk: int):
    approval = get_object_or_404(
        ApprovalRequest.objects.select_related("requested_by", "decided_by"), pk=pk
    )
    if not (
        request.user.has_perm("staff.decide_approval")
        or approval.requested_by_id == request.user.pk
    ):
        raise PermissionDenied
    return render(
        request,
        "staff/approval_detail.html",
        {
            "approval": approval,
            "events": approval.events.select_related("actor"),
            "can_decide": approval.status == ApprovalStatus.PENDING
            and can_decide(approval=approval, user=request.user),
        },
    )


@login_required
@require_POST
@permission_required("staff.decide_approval", raise_exception=True)
def approval_decide(request, pk: int):
    decision = request.POST.get("decision")
    reason = request.POST.get("reason", "")
    try:
        if decision == "approve":
            approval_approve(approval_id=pk, actor=request.user, reason=reason)
            messages.success(request, "Approved. The action is being carried out.")
        elif decision == "reject":
            approval_reject(approval_id=pk, actor=request.user, reason=reason)
            messages.success(request, "Rejected. The requester will see your reason.")
        else:
            messages.error(request, "Choose approve or reject.")
    except PaydeskError as exc:
        messages.error(request, str(exc))
    return redirect("staff:approval_detail", pk=pk)


@login_required
@permission_required("staff.view_rolelimit", raise_exception=True)
def limits(request):
    rows = RoleLimit.objects.select_related("group").order_by("action", "group__name", "currency")
    query = request.GET.get("q", "").strip()
    if query:
        rows = rows.filter(Q(group__name__icontains=query) | Q(action__icontains=query))
    return render(request, "staff/limits.html", {"rows": rows, "q": query})
