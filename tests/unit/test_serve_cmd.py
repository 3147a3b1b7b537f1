"""``sceau serve`` warns when what the operator asked for is not what clients will be told."""

from __future__ import annotations

from sceau.cli.serve_cmd import url_warnings


def test_no_warning_when_port_and_url_agree() -> None:
    assert url_warnings("http://127.0.0.1:8080", None, 8080, ".sceau") == []
    assert url_warnings("http://127.0.0.1:8080", "http://127.0.0.1:8080/", 8080, ".sceau") == []


def test_a_different_url_for_an_existing_instance_is_named() -> None:
    (warning,) = url_warnings("http://127.0.0.1:8080", "http://127.0.0.1:9000", 8080, "d")
    assert "made for http://127.0.0.1:8080" in warning and "--url http://127.0.0.1:9000" in warning


def test_a_loopback_url_on_another_port_is_named() -> None:
    (warning,) = url_warnings("http://127.0.0.1:8080", None, 9000, "d")
    assert "port 9000" in warning and "names port 8080" in warning


def test_a_public_url_behind_a_proxy_may_listen_anywhere() -> None:
    assert url_warnings("https://sigstore.example.com", None, 8080, "d") == []
