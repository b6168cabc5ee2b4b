"""What the local stack needs from the operating system: Debian packages and programs on it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from devstack.process import StackError

_apt_updated = False


def say(message: str) -> None:
    print(f"[stack] {message}", file=sys.stderr, flush=True)


def ensure_debian_packages(packages: list[str], *, why: str) -> None:
    """Install Debian packages with apt-get, or explain what to install when that is impossible."""
    global _apt_updated
    wanted = " ".join(packages)
    if shutil.which("apt-get") is None:
        raise StackError(
            f"{why} needs the Debian packages '{wanted}', and this machine has no apt-get. "
            "Install them with your package manager, or point the EINVOICE_* settings at "
            "running servers (docs/configuration.md)."
        )
    if os.geteuid() != 0:
        raise StackError(
            f"{why} needs the Debian packages '{wanted}'. Run as root, or install them first: "
            f"sudo apt-get install -y {wanted}"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    say(f"installing Debian packages: {wanted}")
    if not _apt_updated:
        _run(["apt-get", "update", "-q"], env, "apt-get update")
        _apt_updated = True
    _run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
        env,
        f"apt-get install {wanted}",
    )


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise StackError(f"{what} failed (exit {result.returncode}):\n{tail}")


def ensure_program(name: str, *, package: str, why: str) -> Path:
    """The program's path, installing its Debian package first when it is missing."""
    path = shutil.which(name)
    if path is None:
        ensure_debian_packages([package], why=why)
        path = shutil.which(name)
        if path is None:
            raise StackError(f"the package {package} installed no '{name}' on PATH")
    return Path(path)
