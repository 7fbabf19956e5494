"""Demo staff: one login per role, password = the username + '-demo'."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from staff import roles
from staff.demo_logins import DEMO_ADMIN, DEMO_USERS, demo_password  # noqa: F401


def seed(*, out) -> None:
    User = get_user_model()
    roles.roles_apply()
    created = 0
    for username, first, last, role in DEMO_USERS:
        user, was_created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@paydesk.example",
                "is_staff": True,
            },
        )
        if was_created:
            user.set_password(demo_password(username))
            user.save()
            created += 1
        user.groups.add(Group.objects.get(name=role))
    admin, was_created = User.objects.get_or_create(
        username=DEMO_ADMIN[0],
        defaults={
            "first_name": DEMO_ADMIN[1],
            "last_name": DEMO_ADMIN[2],
            "is_staff": True,
            "is_superuser": True,
            "email": "admin@paydesk.example",
        },
    )
    if was_created:
        admin.set_password(demo_password("admin"))
        admin.save()
        created += 1
    out.write(f"staff: {created} demo users created")
