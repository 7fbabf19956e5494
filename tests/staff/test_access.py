import pytest
from django.urls import reverse

from staff import roles
from staff.demo import DEMO_USERS, demo_password

pytestmark = pytest.mark.django_db


def test_support_cannot_open_finance_admin_screens(client, support):
    client.force_login(support)
    assert client.get(reverse("staff:limits")).status_code == 403
    assert client.get(reverse("staff:home_finance")).status_code == 403
    assert client.get("/admin/staff/rolelimit/").status_code in (302, 403)


def test_finance_admin_opens_limits(client, finance_admin):
    client.force_login(finance_admin)
    response = client.get(reverse("staff:limits"))
    assert response.status_code == 200
    assert b"Support" in response.content


def test_login_page_and_each_demo_login_reaches_its_home(client):
    from io import StringIO

    from django.core.management import call_command

    call_command("seed_demo", stdout=StringIO())
    assert client.get("/login/").status_code == 200
    expected_home = {r: reverse(roles.ROLE_HOME[r]) for r in roles.ALL_ROLES}
    for username, _f, _l, role in DEMO_USERS:
        client.logout()
        response = client.post(
            "/login/", {"username": username, "password": demo_password(username)}, follow=True
        )
        assert response.status_code == 200, username
        assert response.redirect_chain[-1][0] == expected_home[role], username


def test_seed_demo_is_idempotent(django_user_model):
    from io import StringIO

    from django.core.management import call_command

    call_command("seed_demo", stdout=StringIO())
    count = django_user_model.objects.count()
    call_command("seed_demo", stdout=StringIO())
    assert django_user_model.objects.count() == count


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("staff:home"))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_roles_apply_twice_is_harmless():
    from django.contrib.auth.models import Group

    from staff.roles import roles_apply

    first = roles_apply()
    second = roles_apply()
    assert first == second
    assert Group.objects.filter(name__in=roles.ALL_ROLES).count() == len(roles.ALL_ROLES)
