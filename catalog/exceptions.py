from common.exceptions import InvalidTransition, NotFound, PaydeskError, ValidationFailed


class InvalidQuantity(ValidationFailed):
    code = "invalid_quantity"
    title = "The quantity is not valid."


class InvalidPrice(ValidationFailed):
    code = "invalid_price"
    title = "The price is not valid."


class InvalidPlan(ValidationFailed):
    code = "invalid_plan"
    title = "The plan is not valid."


class PlanCurrencyMismatch(PaydeskError):
    code = "plan_currency_mismatch"
    title = "The plan is in a different currency than the account or the current plan."
    status = 422


class PlanBillingPeriodMismatch(PaydeskError):
    code = "plan_billing_period_mismatch"
    title = "A plan change keeps the billing period; end the subscription and start a new one."
    status = 422


class PlanInactive(PaydeskError):
    code = "plan_inactive"
    title = "The plan is no longer offered."
    status = 422


class PlanUnchanged(PaydeskError):
    code = "plan_unchanged"
    title = "The subscription is already on this plan."
    status = 422


class InvalidSubscription(ValidationFailed):
    code = "invalid_subscription"
    title = "The subscription is not valid."


class SubscriptionStateError(InvalidTransition):
    code = "subscription_invalid_state"
    title = "The subscription's status does not allow this."


class PlanNotFound(NotFound):
    code = "plan_not_found"
    title = "The plan does not exist."
