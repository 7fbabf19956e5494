"""The demo logins, one per role (plain data: printed by ``make run`` before Django loads)."""

DEMO_USERS = [
    ("anna.accountant", "Anna", "Becker", "Accountant"),
    ("sam.support", "Sam", "Okafor", "Support"),
    ("lena.lead", "Lena", "Hoffmann", "Support lead"),
    ("gus.growth", "Gus", "Martin", "Growth"),
    ("rita.risk", "Rita", "Kowalski", "Risk"),
    ("fiona.finance", "Fiona", "Schulz", "Finance admin"),
]
DEMO_ADMIN = ("admin", "Admin", "User")


def demo_password(username: str) -> str:
    return f"{username}-demo"
