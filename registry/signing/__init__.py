"""The signing core: pure functions over bytes and dicts (no web, no database).

Modules: ``encoding`` (base64url, base58btc, multibase), ``keys`` (Ed25519, JWK,
Multikey, thumbprints), ``keyring`` (key history), ``jcs`` (RFC 8785), ``did``
(did:key, did:web, verification methods), ``data_integrity`` (eddsa-jcs-2022 and
eddsa-rdfc-2022), ``rdfc`` (RDFC-1.0 canonicalization with pinned JSON-LD contexts),
``jose`` (VC-JWT), ``errors``.
"""
