"""Ports: what components offer each other, and the start order their declarations make."""

from __future__ import annotations

import random
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest

from bootstrap import components, load_settings
from hub.app import create_app
from hub.ports import HUB_PORTS, PORT_NAMES, Ports, WiringError, start_order
from tests.support.hub import running_hub

VOICE_ON: dict[str, Any] = {
    "voice_enabled": True, "voice_sip_udp_port": 0, "voice_sip_tcp_port": 0, "voice_rtp_port_min": 0,
    "voice_rtp_port_max": 0,
}


@dataclass
class Fake:
    """A component as far as the start order is concerned."""

    name: str
    provides: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    uses_later: tuple[str, ...] = ()

    def register(self, api: Any, sio: Any) -> None:
        pass

    async def start(self, services: Any) -> None:
        pass

    async def stop(self) -> None:
        pass


def every_component() -> list[Any]:
    """The real components, every optional one turned on."""
    return list(components(load_settings(environ={}, kb_enabled=True, email_enabled=True,
                                         sms_enabled=True, fax_enabled=True)))


def assert_providers_first(order: list[Any]) -> None:
    position = {port: i for i, c in enumerate(order) for port in c.provides}
    for i, c in enumerate(order):
        for port in c.uses:
            if port in position:
                assert position[port] < i, f"{c.name} starts before the provider of {port!r}"


def test_providers_start_before_their_users_whatever_the_list_order():
    real = every_component()
    for seed in range(25):
        shuffled = real[:]
        random.Random(seed).shuffle(shuffled)
        order = start_order(shuffled)
        assert sorted(map(id, order)) == sorted(map(id, real))
        assert_providers_first(order)


def test_without_dependencies_the_given_order_stays():
    a, b, c = Fake("a"), Fake("b", provides=("kb",)), Fake("c", uses=("kb",))
    assert start_order([c, a, b]) == [a, b, c]
    assert start_order([a, b, c]) == [a, b, c]


def test_a_use_without_a_running_provider_does_not_constrain():
    user = Fake("assist", uses=("kb",))  # the knowledge base is off
    assert start_order([user]) == [user]


def test_a_later_use_does_not_order_so_components_may_call_each_other():
    email = Fake("email", provides=("email",), uses_later=("fax_intake",))
    fax = Fake("fax", provides=("fax_intake",), uses=("email",))
    assert start_order([fax, email]) == [email, fax]


def test_a_cycle_is_refused_naming_the_components_and_ports():
    a = Fake("alpha", provides=("kb",), uses=("sms",))
    b = Fake("beta", provides=("sms",), uses=("workflows",))
    c = Fake("gamma", provides=("workflows",), uses=("kb",))
    with pytest.raises(WiringError, match="cycle") as err:
        start_order([Fake("free"), a, b, c])
    message = str(err.value)
    for part in ("'alpha'", "'beta'", "'gamma'", "'kb'", "'sms'", "'workflows'", "uses_later"):
        assert part in message
    assert "'free'" not in message


def test_using_a_port_one_provides_is_refused():
    with pytest.raises(WiringError, match="'voice' .*provides itself"):
        start_order([Fake("voice", provides=("voice",), uses=("voice",))])


def test_two_providers_of_one_port_are_refused():
    with pytest.raises(WiringError, match=r"port 'kb' has two providers: 'kb' \(Fake\) and 'kb2' \(Fake\)"):
        start_order([Fake("kb", provides=("kb",)), Fake("kb2", provides=("kb",))])


@pytest.mark.parametrize("declared", [{"provides": ("kbase",)}, {"uses": ("kbase",)}, {"uses_later": ("kbase",)}])
def test_an_unknown_port_is_refused(declared):
    with pytest.raises(WiringError, match="unknown port 'kbase'"):
        start_order([Fake("x", **declared)])


def test_a_port_of_the_hub_is_not_provided_by_a_component():
    with pytest.raises(WiringError, match="'cluster', which the hub fills itself"):
        start_order([Fake("x", provides=("cluster",))])


def test_the_app_is_not_built_when_the_declarations_make_no_order(tmp_path):
    settings = load_settings(environ={}, data_dir=str(tmp_path))
    with pytest.raises(WiringError, match="cycle"):
        create_app(settings, channels=[Fake("a", provides=("kb",), uses=("sms",)),
                                       Fake("b", provides=("sms",), uses=("kb",))])


def test_every_port_a_component_declares_is_a_ports_attribute_and_each_has_one_provider():
    names = {f.name for f in fields(Ports)}
    assert set(PORT_NAMES) == names
    provided: list[str] = []
    for c in every_component():
        for port in (*c.provides, *c.uses, *c.uses_later):
            assert port in names, f"{c.name} declares {port!r}, not an attribute of Ports"
        provided += c.provides
    assert sorted(provided) == sorted(names - set(HUB_PORTS))


def port_protocol(name: str) -> Any:
    """The Protocol of a port: ``X`` of the ``X | None`` annotation."""
    (proto,) = [t for t in typing.get_args(typing.get_type_hints(Ports)[name]) if t is not type(None)]
    return proto


async def test_after_start_every_port_of_a_running_component_is_set_and_keeps_its_protocol(tmp_path: Path):
    async with running_hub(tmp_path / "data", **VOICE_ON) as hub:
        ports = hub.services.ports
        provided = {p for c in every_component() for p in c.provides}
        for name in PORT_NAMES:
            value = getattr(ports, name)
            if name in provided:
                assert value is not None, f"port {name!r} is not set after start"
                assert isinstance(value, port_protocol(name)), f"port {name!r}: {value!r}"
            else:
                assert value is None  # the cluster: one process here
        assert ports.voice is not None and ports.voice.callbacks is not None
    assert hub.services.ports.fax_intake is None  # withdrawn when the fax channel stops
