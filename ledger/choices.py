from django.db import models


class AccountType(models.TextChoices):
    ASSET = "asset", "Asset"
    LIABILITY = "liability", "Liability"
    EQUITY = "equity", "Equity"
    REVENUE = "revenue", "Revenue"
    EXPENSE = "expense", "Expense"


# Which side grows the account; a statement shows balances with this sign as positive.
DEBIT_NORMAL = {AccountType.ASSET, AccountType.EXPENSE}
