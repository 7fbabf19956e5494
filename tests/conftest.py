import pytest
from django.contrib.auth.models import Group

from staff import roles


@pytest.fixture
def make_staff(db, django_user_model):
    """Create a staff member with the given role(s): ``make_staff("sue", roles.SUPPORT)``."""

    def make(username: str, *role_names: str, **extra):
        user = django_user_model.objects.create_user(
            username=username, password=f"{username}-pw", is_staff=True, **extra
        )
        for name in role_names:
            user.groups.add(Group.objects.get(name=name))
        return user

    return make


@pytest.fixture
def support(make_staff):
    return make_staff("sam", roles.SUPPORT)


@pytest.fixture
def support_lead(make_staff):
    return make_staff("lena", roles.SUPPORT_LEAD)


@pytest.fixture
def finance_admin(make_staff):
    return make_staff("fiona", roles.FINANCE_ADMIN)


@pytest.fixture
def accountant(make_staff):
    return make_staff("anna", roles.ACCOUNTANT)


@pytest.fixture
def api_key_factory(db):
    from staff.services import apikey_create

    def make(*scopes: str, name: str = "product backend"):
        key, raw = apikey_create(name=name, scopes=list(scopes))
        return key, raw

    return make


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()
