"""apprise cannot reach the internet here: its json:// scheme posts to a real local receiver."""

from __future__ import annotations

import pytest

from opsbinder.notify import DeliveryError, apprise_channel
from tests.notify.receiver import Receiver


def test_it_delivers_a_chat_message_through_an_apprise_url() -> None:
    receiver = Receiver()
    try:
        url = f"json://127.0.0.1:{receiver.port}/hook"
        apprise_channel.send({"url": url}, {"title": "Incident #7", "text": "backup late"}, "k1")
        (body,) = receiver.accepted.values()
        assert body["title"] == "Incident #7"
        assert "backup late" in body["message"] and "[k1]" in body["message"]
    finally:
        receiver.stop()


def test_it_raises_when_the_chat_endpoint_is_down() -> None:
    receiver = Receiver()
    receiver.stop()
    with pytest.raises(DeliveryError, match="could not deliver"):
        apprise_channel.send({"url": f"json://127.0.0.1:{receiver.port}/hook"}, {"title": "x"}, "k")


def test_it_builds_the_mail_url_from_the_smtp_variable() -> None:
    env = {"OPSBINDER_SMTP_URL": "mailtos://ops:pw@smtp.msp.example:587?from=ops@msp.example"}
    url = apprise_channel.resolve_url({"email": "lena.fischer@msp.example"}, env)
    assert url == (
        "mailtos://ops:pw@smtp.msp.example:587?from=ops@msp.example&to=lena.fischer%40msp.example"
    )
    with pytest.raises(DeliveryError, match="OPSBINDER_SMTP_URL, which is not set"):
        apprise_channel.resolve_url({"email": "x@y.example"}, {})


def test_it_reads_a_chat_url_with_a_token_from_the_environment() -> None:
    env = {"CHAT_URL": "json://127.0.0.1:9/x"}
    assert apprise_channel.resolve_url({"url": "env:CHAT_URL"}, env) == "json://127.0.0.1:9/x"
