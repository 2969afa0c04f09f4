"""The copy-paste server snippets of docs/identity.md make identities that Parley accepts."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from apps.identity.claims import claims_read

DOC = Path(__file__).resolve().parents[2] / "docs" / "identity.md"
SECRET = "is_" + "s3cret" * 6


def snippet(language: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks, f"no {language} block in {DOC}"
    return blocks[0]


def test_the_python_snippet(monkeypatch):
    monkeypatch.setenv("PARLEY_IDENTITY_SECRET", SECRET)
    namespace: dict = {}
    exec(compile(snippet("python"), "identity.md", "exec"), namespace)  # noqa: S102 - our own docs

    class User:
        id = 42
        email = "ada@example.com"

        def get_full_name(self):
            return "Ada Lovelace"

    claims = claims_read(namespace["parley_identity"](User()), secret=SECRET)
    assert (claims.subject, claims.name, claims.email) == ("42", "Ada Lovelace", "ada@example.com")
    assert claims_read(namespace["parley_identity_hmac"](User()), secret=SECRET).subject == "42"


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_the_node_snippet():
    program = snippet("js") + (
        'console.log(JSON.stringify([parleyIdentity({ id: 42, name: "Ада", email: "ada@example.com" }),'
        " parleyIdentityHmac({ id: 42 })]));"
    )
    out = subprocess.run(
        ["node", "-e", program],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
        env={"PARLEY_IDENTITY_SECRET": SECRET, "PATH": "/usr/bin:/bin"},
    ).stdout
    token, hashed = json.loads(out)
    claims = claims_read(token, secret=SECRET)
    assert (claims.subject, claims.name) == ("42", "Ада")
    assert claims_read(hashed, secret=SECRET).subject == "42"
