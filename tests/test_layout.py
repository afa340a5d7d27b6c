"""The layout rules of STYLE.md that code can check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import registry.signing
from registry.errors import RegistryError
from registry.signing import errors as signing_errors

SIGNING = Path(registry.signing.__file__).parent


def test_signing_core_is_pure() -> None:
    modules = sorted(f"registry.signing.{p.stem}" for p in SIGNING.glob("*.py") if p.stem != "__init__")
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('fastapi', 'starlette', 'sqlmodel', 'sqlalchemy', 'httpx', 'uvicorn', 'pydantic'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"registry.signing imports {result.stdout.strip()}"
    assert len(modules) >= 8


@pytest.mark.parametrize(
    "error",
    [getattr(signing_errors, name) for name in dir(signing_errors) if name.endswith("Error")],
)
def test_every_signing_error_is_a_registry_error_with_a_slug(error: type[Exception]) -> None:
    assert issubclass(error, RegistryError)
    if error is not RegistryError:
        assert error.slug
        assert error.slug != RegistryError.slug
        assert 400 <= error.status < 600


def test_slugs_are_unique() -> None:
    errors = [
        e for e in vars(signing_errors).values() if isinstance(e, type) and issubclass(e, RegistryError)
    ]
    slugs = [e.slug for e in errors]
    assert len(slugs) == len(set(slugs))
