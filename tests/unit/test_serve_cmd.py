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


def test_tls_and_url_scheme_disagreeing_is_named() -> None:
    (warning,) = url_warnings("http://127.0.0.1:8080", None, 8080, "d", tls=True)
    assert "serving HTTPS" in warning and "http://" in warning
    (warning,) = url_warnings("https://localhost:8443", None, 8443, "d")
    assert "--tls-cert" in warning
    # behind a TLS proxy on this machine: the port differs, one warning names the proxy
    (warning,) = url_warnings("https://localhost:8443", None, 8080, "d")
    assert "unless a proxy on this machine forwards 8443 to 8080" in warning


def test_commands_for_an_unreachable_port_are_not_printed(capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sceau.cli.serve_cmd import announce
    from sceau.config import InstanceConfig
    from sceau.instance.init import init_instance

    init_instance(tmp_path / "i", url="http://127.0.0.1:8080")
    cfg = InstanceConfig.load(tmp_path / "i")
    announce(cfg, 9000)
    out = capsys.readouterr().out
    assert "not printed" in out and "sceau sign" not in out
    announce(cfg, 8080)
    assert "sceau sign --instance-dir" in capsys.readouterr().out
