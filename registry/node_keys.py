"""The node's key ring on disk: ``keyring.json`` holds the public history (kid,
public key, created/activated/retired/compromised-from) and ``keys/<kid>.pem`` each
private key as passphrase-encrypted PKCS#8. Files are written to a temporary name,
flushed and renamed, so a crash leaves the old ring or the new one, never half."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from registry.signing.errors import KeyMaterialError
from registry.signing.keyring import KeyRing
from registry.signing.keys import generate_private_key, private_key_from_pem, private_key_to_pem


def _write_atomically(path: Path, data: bytes, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


class NodeKeyStore:
    def __init__(self, data_dir: Path, passphrase: str) -> None:
        self.ring_path = data_dir / "keyring.json"
        self.keys_dir = data_dir / "keys"
        self._passphrase = passphrase.encode("utf-8")

    def exists(self) -> bool:
        return self.ring_path.exists()

    def load(self) -> KeyRing:
        records = json.loads(self.ring_path.read_text(encoding="utf-8"))["keys"]
        private_keys = {}
        for record in records:
            pem_path = self.keys_dir / f"{record['kid']}.pem"
            if pem_path.exists():
                private_keys[record["kid"]] = private_key_from_pem(pem_path.read_bytes(), self._passphrase)
        return KeyRing.from_public_records(records, private_keys)

    def save(self, ring: KeyRing) -> None:
        for kid, key in ring.private_keys.items():
            pem_path = self.keys_dir / f"{kid}.pem"
            if not pem_path.exists():
                _write_atomically(pem_path, private_key_to_pem(key, self._passphrase))
        body = json.dumps({"keys": ring.public_records()}, indent=2).encode("utf-8")
        _write_atomically(self.ring_path, body, 0o644)

    def load_or_create(self, now: datetime) -> KeyRing:
        if self.exists():
            return self.load()
        ring = KeyRing.start(generate_private_key(), now)
        self.save(ring)
        return ring

    def rotate(self, now: datetime) -> KeyRing:
        if not self.exists():
            raise KeyMaterialError("no key ring to rotate; start the node or run 'registry init' first")
        ring = self.load().rotate(generate_private_key(), now)
        self.save(ring)
        return ring
