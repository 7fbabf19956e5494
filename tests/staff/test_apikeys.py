import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from staff.models import ApiKey
from staff.services import apikey_authenticate

pytestmark = pytest.mark.django_db


def test_apikey_create_command_prints_key_alone_on_last_line():
    out = StringIO()
    call_command(
        "apikey_create",
        "--name",
        "product",
        "--scope",
        "usage:write",
        "--scope",
        "accounts:read",
        stdout=out,
        stderr=StringIO(),
    )
    raw = out.getvalue().strip().splitlines()[-1]
    assert raw.startswith("pd_") and " " not in raw
    key = ApiKey.objects.get(name="product")
    # Only the hash is stored.
    assert raw not in (key.key_hash, key.prefix)
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert key.scopes == ["accounts:read", "usage:write"]
    assert apikey_authenticate(raw_key=raw) == key


def test_unknown_scope_is_refused_with_a_clear_message():
    with pytest.raises(CommandError, match="Unknown scope.*usage:delete"):
        call_command(
            "apikey_create",
            "--name",
            "x",
            "--scope",
            "usage:delete",
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert not ApiKey.objects.exists()
