"""OpenID Federation 1.0 for the registry: the pure core (no web, no database, no clock,
no network; the current time and ``fetch`` are parameters).

Modules: ``errors`` (the federation error tree), ``identifiers`` (Entity Identifiers and
the URLs derived from them), ``jws`` (strict compact JWS, JWK Sets, EdDSA), ``statements``
(entity statements: build, sign, verify), ``policy`` (metadata_policy: check, merge,
apply), ``constraints`` (max_path_length, naming_constraints, allowed_entity_types),
``chain`` (trust chain resolution and validation), ``historical_keys`` (the signed
historical keys JWK Set and key validity at an instant).

Beside the core, with the node's storage: ``anchor`` (the trust anchor's members and
authorisations), ``directory`` (what a node knows of its peers), ``recognition`` (this
node's recognition policy and what a verified credential is in its terms).
"""
