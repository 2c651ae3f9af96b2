"""packaging/build.py: the build-time config and the release tarball, without PyInstaller."""

from __future__ import annotations

import ast
import tarfile
from pathlib import Path

from tests.packaging.conftest import load_script

build = load_script("build")


def test_no_build_config_without_variables() -> None:
    assert build.build_config_source({}) is None
    assert build.build_config_source({"POSTHOG_API_KEY": "  "}) is None


def test_build_config_holds_exactly_the_given_values() -> None:
    source = build.build_config_source(
        {"POSTHOG_API_KEY": "phc_x'\"y", "BACKEND_URL": "https://api.test", "OTHER": "z"}
    )
    assert source is not None
    values = {
        node.targets[0].id: ast.literal_eval(node.value)  # type: ignore[attr-defined]
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign)
    }
    assert values == {"POSTHOG_API_KEY": "phc_x'\"y", "BACKEND_URL": "https://api.test"}


def test_tarball_name() -> None:
    assert build.tarball_name("1.2.3", "x86_64") == "DomainCheck-1.2.3-linux-x86_64.tar.gz"


def test_tarball_layout_and_modes(tmp_path: Path) -> None:
    bundle = tmp_path / "DomainCheck"
    (bundle / "_internal").mkdir(parents=True)
    (bundle / "DomainCheck").write_text("#!/bin/sh\n")
    (bundle / "DomainCheck").chmod(0o755)
    (bundle / "_internal" / "libreal.so.1").write_bytes(b"x")
    (bundle / "libreal.so.1").symlink_to("_internal/libreal.so.1")

    tarball = build.make_tarball(bundle, tmp_path / build.tarball_name("1.2.3", "x86_64"), "1.2.3")
    with tarfile.open(tarball) as tar:
        members = {m.name: m for m in tar.getmembers()}
    top = "DomainCheck-1.2.3-linux-x86_64"
    for name in ("install.sh", "uninstall.sh", "README.txt", "DomainCheck/DomainCheck"):
        assert f"{top}/{name}" in members
    assert members[f"{top}/install.sh"].mode & 0o111
    assert members[f"{top}/DomainCheck/DomainCheck"].mode & 0o111
    assert members[f"{top}/DomainCheck/libreal.so.1"].issym()
    assert all(m.uid == 0 and m.uname == "" for m in members.values())
    assert not list(tmp_path.glob(".*-extras"))
