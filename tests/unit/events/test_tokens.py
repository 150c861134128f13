"""Resume tokens keep one format: clients store them across server upgrades."""

from __future__ import annotations

import base64
import json

import pytest

from interlude_server.core.errors import InvalidArgument
from interlude_server.events import tokens


@pytest.mark.parametrize("log_id", ["7d0c8e1e-3b1f-4f3a-9a51-0a8f1c2d3e4f", 'a "quoted" \\ log é'])
@pytest.mark.parametrize("seq", [0, 1, 127, 10**12])
def test_a_token_is_the_url_safe_base64_of_the_compact_json_position(log_id: str, seq: int) -> None:
    compact = json.dumps({"l": log_id, "s": seq}, separators=(",", ":")).encode()
    token = tokens.encode(tokens.ResumePoint(log_id, seq))
    assert token == base64.urlsafe_b64encode(compact).decode().rstrip("=")
    assert tokens.decode(token) == tokens.ResumePoint(log_id, seq)


def test_a_token_that_is_not_ours_is_refused_with_its_reason() -> None:
    with pytest.raises(InvalidArgument) as refused:
        tokens.decode("bm90IGEgdG9rZW4")
    assert refused.value.reason == "INVALID_RESUME_TOKEN"
