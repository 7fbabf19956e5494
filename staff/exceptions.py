from common.exceptions import Conflict, PaydeskError, PermissionDenied


class SelfApprovalRefused(PermissionDenied):
    code = "approval_self_decision"
    title = "You cannot decide on your own request."


class ApproverRoleMissing(PermissionDenied):
    code = "approval_role_missing"
    title = "Your role may not decide on this request."


class ApprovalNotPending(Conflict):
    code = "approval_not_pending"
    title = "This request has already been decided."


class ReasonRequired(PaydeskError):
    code = "reason_required"
    title = "A reason is required."
    status = 422
