"""What this node knows of the other federation members, kept warm so that verifying a
peer's credential costs what verifying one of its own does.

For each member: an :class:`~registry.federation.metadata.IssuerProfile` from a trust
chain resolved to the configured trust anchor (keys with their history, authorisations,
status-list base), trusted until the chain's earliest ``exp`` and never after. For each
status list of a member: the bits of its signed list credential, verified against that
member's keys, with the ETag to revalidate it, trusted for ``status_max_age`` seconds
after it was last confirmed; past that the status check says ``unknown``.

The request path (:meth:`PeerDirectory.prepare`) fetches only what is missing or
expired (a cold verification); :meth:`PeerDirectory.refresh` renews what passes half
its life, in the background, so a warm verification makes no network request and does
not depend on a peer being up. A member that cannot be reached is remembered as such
for ``failure_ttl`` seconds, so a peer that is down costs one request a time-out, not
every request.

Nothing here decides a verdict: the pure pipeline (``credentials.verification``) reads
the profiles through ``Trust`` and the bits through :meth:`PeerDirectory.status`.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import unquote

import orjson

from registry.credentials.status import (
    REASON_LABELS,
    TOKEN_BITS,
    TOKEN_INVALID,
    TOKEN_LIST_MEDIA_TYPE,
    TOKEN_LIST_TYPE,
    TOKEN_SUSPENDED,
    TOKEN_VALID,
    token_status,
)
from registry.credentials.status_list import Bitstring
from registry.errors import RegistryError
from registry.federation import recognition
from registry.federation.chain import resolve_trust_chain
from registry.federation.client import BadStatusError, PeerClient
from registry.federation.errors import FederationError
from registry.federation.identifiers import entity_configuration_url
from registry.federation.metadata import IssuerProfile, profile_from_metadata
from registry.federation.statements import verify_entity_statement
from registry.signing import data_integrity, jcs, jose
from registry.signing.did import VerificationMethod
from registry.signing.encoding import b64url_decode
from registry.signing.errors import EncodingError, KeyMaterialError, ResolutionError, SigningError

log = logging.getLogger("registry.federation.directory")

ENTITY_STATEMENT = "application/entity-statement+jwt"
STATUS_LIST_TYPES = ("application/vc+json", "application/vc", "application/json", TOKEN_LIST_MEDIA_TYPE)
#: Cap on a status list credential (131,072 entries gzip to a few hundred bytes; a
#: list with many bits set is still far below this).
MAX_STATUS_LIST_BYTES = 256 * 1024

StatusState = Literal["set", "clear", "unknown"]


def entity_id_of_did(did: str) -> str | None:
    """The entity identifier of a ``did:web`` (its https URL, DID Web §3.2), or None."""
    if not isinstance(did, str) or not did.startswith("did:web:"):
        return None
    host, *path = did[len("did:web:") :].split(":")
    if not host:
        return None
    return "https://" + unquote(host) + "".join("/" + unquote(p) for p in path)


@dataclass(frozen=True)
class PeerList:
    """A member's status list as last confirmed."""

    url: str
    did: str
    purpose: str
    bits: bytes
    length: int
    etag: str | None
    #: When the list was last confirmed (a 200 verified, or a 304), by the node's clock.
    confirmed_at: datetime
    #: The reason code of each set bit, as the member published it with the list.
    reasons: Mapping[int, str] = field(default_factory=dict)
    #: A Status List Token's ``exp`` (it is not used after it, 304s or not).
    expires_at: datetime | None = None


class _ListResolver:
    """Resolves a member's verification methods from its (chain-vouched) key ring."""

    def __init__(self, profile: IssuerProfile) -> None:
        self.profile = profile

    def resolve(self, verification_method_id: str) -> VerificationMethod:
        did, _, kid = verification_method_id.partition("#")
        if did != self.profile.did:
            raise ResolutionError("the list is not signed by its issuer's key")
        try:
            record = self.profile.ring().record(kid)
        except KeyMaterialError:
            raise ResolutionError(f"{self.profile.label} never had key {kid!r}") from None
        return VerificationMethod(
            verification_method_id, did, record.public_key, frozenset({"assertionMethod"})
        )


def unverified_references(item: Any) -> tuple[str | None, list[str]]:
    """What a presented credential *claims* its issuer and status lists are, read
    without verifying anything: only to know what to fetch before the checks run."""
    document: Any = item
    if isinstance(item, str | bytes):
        raw = item.encode() if isinstance(item, str) else item
        raw = raw.strip()
        if b"~" in raw:  # an SD-JWT (VC): its issuer-signed JWT comes first
            raw = raw.split(b"~", 1)[0]
        if raw.startswith(b"{"):
            try:
                document = jcs.loads(raw)
            except RegistryError:
                return None, []
        elif raw.count(b".") == 2:
            payload = raw.split(b".")[1]
            try:
                document = orjson.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
            except (ValueError, orjson.JSONDecodeError):
                return None, []
        else:
            return None, []
    if not isinstance(document, Mapping):
        return None, []
    issuer = document.get("issuer", document.get("iss"))
    issuer = issuer.get("id") if isinstance(issuer, Mapping) else issuer
    entries = document.get("credentialStatus")
    entries = entries if isinstance(entries, list) else [entries]
    urls = [
        e["statusListCredential"]
        for e in entries
        if isinstance(e, Mapping) and isinstance(e.get("statusListCredential"), str)
    ]
    # An SD-JWT VC's Token Status List reference (draft-ietf-oauth-status-list §6.2).
    reference = document.get("status")
    listed = reference.get("status_list") if isinstance(reference, Mapping) else None
    if isinstance(listed, Mapping) and isinstance(listed.get("uri"), str):
        urls.append(listed["uri"])
    return (issuer if isinstance(issuer, str) else None), urls


class PeerDirectory:
    def __init__(
        self,
        *,
        trust_anchor: str,
        trust_anchor_jwks: Mapping[str, Any],
        own_entity_id: str,
        client: PeerClient,
        allowed: set[str],
        clock: Any,
        status_max_age: float,
        allow_http_loopback: bool = False,
        failure_ttl: float = 30.0,
        request_budget: float = 8.0,
        own_configuration: Callable[[], bytes] | None = None,
    ) -> None:
        self.trust_anchor = trust_anchor
        self.anchors = {trust_anchor: dict(trust_anchor_jwks)}
        self.own_entity_id = own_entity_id
        self.client = client
        self.clock = clock
        self.status_max_age = timedelta(seconds=status_max_age)
        self.allow_http_loopback = allow_http_loopback
        self.failure_ttl = failure_ttl
        self.request_budget = request_budget
        #: This node's own entity configuration, read in-process: its own trust chain
        #: (for the anchor's word on its own authorisations) needs no request to itself.
        self.own_configuration = own_configuration
        self._profiles: dict[str, IssuerProfile] = {}
        self._fetched: dict[str, datetime] = {}
        self._failures: dict[str, tuple[float, str]] = {}
        self._lists: dict[str, PeerList] = {}
        self._list_failures: dict[str, tuple[float, str]] = {}
        self._pending: dict[str, asyncio.Future[None]] = {}
        #: members' recognition policies: entity -> (policy or None, when confirmed)
        #: entity -> (its policy or None, when it was read (monotonic), the signed policy's exp)
        self._policies: dict[str, tuple[recognition.Policy | None, float, datetime | None]] = {}
        self._policy_failures: dict[str, tuple[float, str]] = {}
        #: Grows whenever the set of profiles changes (the verification Trust is rebuilt).
        self.version = 0
        #: The base URLs the peer client may reach (the client reads this very set): the
        #: anchor's, and the members the anchor lists. A credential naming any other
        #: issuer makes this node fetch nothing.
        self.allowed = allowed
        allowed.add(trust_anchor)
        self.members: frozenset[str] = frozenset()
        self._members_at = -1e9
        self.members_ttl = 300.0
        self._members_failure = ""

    # --- what the pipeline reads (no I/O) ---------------------------------------------------

    def profiles(self) -> tuple[IssuerProfile, ...]:
        """The members whose chain is valid now (expired ones are never returned)."""
        now = self.clock()
        return tuple(p for p in self._profiles.values() if now < p.expires_at)

    def why_unknown(self, did: str) -> str | None:
        """Why there is no profile for ``did``, when an attempt failed."""
        entity = entity_id_of_did(did)
        failure = self._failures.get(entity or "")
        return failure[1] if failure else None

    def issuer_label(self, url: str) -> str | None:
        """Which member's list ``url`` is (its status-list base is a prefix), if known."""
        for profile in self.profiles():
            if url.startswith(profile.status_list_base):
                return f"{profile.name} {profile.label}"
        return None

    def list_owner(self, url: str) -> str | None:
        """The DID of the member whose status-list base ``url`` lies under."""
        for profile in self.profiles():
            if url.startswith(profile.status_list_base):
                return profile.did
        return None

    def reason_code(self, url: str, index: int) -> str | None:
        """The reason code the member published with its list for the bit of ``index``."""
        found = self._lists.get(url)
        return found.reasons.get(index) if found is not None else None

    @property
    def expires_at(self) -> datetime | None:
        """When the first of the held trust chains expires (the Trust must be rebuilt)."""
        return min((p.expires_at for p in self._profiles.values()), default=None)

    def status(self, url: str, purpose: str, index: int) -> tuple[StatusState, str]:
        """The bit of ``index`` in the member's list at ``url``, from the cache only."""
        found = self._lists.get(url)
        if found is None:
            failure = self._list_failures.get(url)
            why = f": {failure[1]}" if failure else ""
            return "unknown", f"the list {url} could not be fetched{why}"
        age = self.clock() - found.confirmed_at
        if age > self.status_max_age:
            return "unknown", (
                f"the list {url} was last confirmed {int(age.total_seconds())} s ago, "
                f"beyond the {int(self.status_max_age.total_seconds())} s this node accepts"
            )
        if found.purpose != purpose:
            return "unknown", "the entry's purpose differs from its list's"
        if index >= found.length:
            return "unknown", "statusListIndex is beyond the end of the list"
        bit = bool(found.bits[index >> 3] & (0x80 >> (index & 7)))
        when = found.confirmed_at.isoformat(timespec="seconds").replace("+00:00", "Z")
        if not bit:
            return "clear", f"list confirmed at {when}"
        code = found.reasons.get(index)
        label = REASON_LABELS.get(code, code) if code else "no reason published"
        return "set", f"{label}; list confirmed at {when}"

    def token_status(self, url: str, index: int, issuer: str) -> tuple[str, str]:
        """Entry ``index`` of the member's Status List Token at ``url``, from the cache
        only: ``revoked``, ``suspended``, ``clear`` or ``unknown`` (with why). The list
        must be the credential's ``issuer``'s own, and still within its ``exp``."""
        found = self._lists.get(url)
        if found is None:
            failure = self._list_failures.get(url)
            why = f": {failure[1]}" if failure else ""
            return "unknown", f"the token status list {url} could not be fetched{why}"
        age = self.clock() - found.confirmed_at
        if age > self.status_max_age:
            return "unknown", (
                f"the token status list {url} was last confirmed {int(age.total_seconds())} s ago, "
                f"beyond the {int(self.status_max_age.total_seconds())} s this node accepts"
            )
        if found.purpose != "token":
            return "unknown", f"{url} is not a token status list"
        if found.did != issuer:
            return "unknown", f"{url} is another member's list than the credential's issuer's"
        if found.expires_at is not None and self.clock() >= found.expires_at:
            return "unknown", f"the token status list {url} has expired (exp)"
        if index >= found.length:
            return "unknown", "idx is beyond the end of the token status list"
        value = token_status(found.bits, index)
        when = found.confirmed_at.isoformat(timespec="seconds").replace("+00:00", "Z")
        word = {TOKEN_VALID: "clear", TOKEN_INVALID: "revoked", TOKEN_SUSPENDED: "suspended"}.get(value)
        if word is None:
            return "unknown", f"status value {value} of the token status list means nothing here"
        return word, f"token status list confirmed at {when}"

    # --- members' recognition policies ------------------------------------------------------

    #: How long a member's policy is used before it is asked for again (seconds).
    POLICY_TTL = 300.0

    async def policy_of(self, profile: IssuerProfile) -> recognition.Policy | None:
        """The member's latest recognition policy (None: it has published none), signed
        with a key of its history, read again after :attr:`POLICY_TTL`. A
        :class:`FederationError` says why it cannot be known now."""
        entity = profile.entity_id
        held = self._policies.get(entity)
        if (
            held is not None
            and time.monotonic() - held[1] < self.POLICY_TTL
            and (held[2] is None or self.clock() < held[2])
        ):
            return held[0]
        if self._recent_failure(self._policy_failures, entity):
            raise FederationError(self._policy_failures[entity][1])
        try:
            async with asyncio.timeout(self.request_budget):
                found = await self._fetch_policy(profile)
        except TimeoutError:
            found = FederationError(f"the recognition policy of {entity} took too long to fetch")
        if isinstance(found, FederationError):
            self._policy_failures[entity] = (time.monotonic(), found.detail)
            raise found
        # Kept 5 minutes at most, and never past the signed policy's exp (an hour).
        policy, expires = found if found is not None else (None, None)
        self._policies[entity] = (policy, time.monotonic(), expires)
        self._policy_failures.pop(entity, None)
        return policy

    async def _fetch_policy(
        self, profile: IssuerProfile
    ) -> tuple[recognition.Policy, datetime] | FederationError | None:
        """The member's policy and its signed exp; None when it publishes none (404)."""
        url = profile.entity_id + recognition.POLICY_PATH
        try:
            result = await self.client.fetch(
                url, accept=(recognition.POLICY_MEDIA_TYPE,), max_bytes=256 * 1024
            )
        except BadStatusError as exc:
            return None if exc.response_status == 404 else exc
        except FederationError as exc:
            return exc
        try:
            verified = jose.verify_jws(
                result.body or b"",
                _ListResolver(profile),
                frozenset({recognition.POLICY_TYP}),
                "assertionMethod",
            )
            issued, expires = verified.payload.get("iat"), verified.payload.get("exp")
            if type(issued) is not int or type(expires) is not int:
                raise RegistryError("the signed policy has no integer iat and exp")
            moment, bound = int(self.clock().timestamp()), recognition.POLICY_LIFETIME + 60
            # Signed recently (not in the future, not long ago), for at most its lifetime:
            # an old or retired key cannot mint a long-lived policy with a backdated iat.
            if not moment - bound <= issued <= moment + 60 or expires - issued > recognition.POLICY_LIFETIME:
                raise RegistryError("the signed policy's iat and exp are out of bounds")
            kid = verified.verification_method.id.partition("#")[2]
            profile.ring().check_valid_at(kid, datetime.fromtimestamp(min(max(issued, 0), 2**33), UTC))
            policy = recognition.policy_from_claims(
                verified.payload, profile.did, profile.entity_id, self.clock()
            )
            return policy, datetime.fromtimestamp(min(expires, 2**33), UTC)
        except (RegistryError, recognition.PolicyClaimsError) as exc:
            detail = exc.detail if isinstance(exc, RegistryError) else str(exc)
            return FederationError(
                f"the recognition policy of {profile.entity_id} is not acceptable: {detail}"
            )

    async def member_profiles(self) -> tuple[IssuerProfile, ...]:
        """Every other member with a valid trust chain (resolved now when needed)."""
        try:
            async with asyncio.timeout(self.request_budget):
                await self._ensure_members()
                others = sorted(self.members - {self.own_entity_id})
                await asyncio.gather(*(self._ensure_profile(e) for e in others))
        except TimeoutError:
            others = sorted(self.members - {self.own_entity_id})
        return tuple(p for e in others if (p := self._fresh_profile(e)) is not None)

    # --- node-authenticated requests -----------------------------------------------------

    async def member(self, entity: str) -> IssuerProfile:
        """The profile of member ``entity`` from its trust chain (resolved now when this
        node holds none), to check a request it signed or to send it one. A
        :class:`FederationError` says why there is none."""
        entity = entity.rstrip("/")
        if entity == self.own_entity_id:
            raise FederationError("a node does not send requests to itself")
        try:
            async with asyncio.timeout(self.request_budget):
                await self._ensure_profile(entity)
        except TimeoutError:
            raise FederationError(f"the trust chain of {entity} took too long to resolve") from None
        profile = self._fresh_profile(entity)
        if profile is None:
            failure = self._failures.get(entity)
            raise FederationError(failure[1] if failure else f"{entity} has no valid trust chain")
        return profile

    async def member_in(self, province: str) -> IssuerProfile:
        """The member node of ``province`` (GB/T 2260), through the anchor's member list."""
        try:
            async with asyncio.timeout(self.request_budget):
                await self._ensure_members()
                others = sorted(self.members - {self.own_entity_id})
                await asyncio.gather(*(self._ensure_profile(e) for e in others))
        except TimeoutError:
            raise FederationError("the federation's members took too long to resolve") from None
        for entity in others:
            profile = self._fresh_profile(entity)
            if profile is not None and profile.province == province:
                return profile
        why = self._members_failure or "no member with a valid trust chain is of that province"
        raise FederationError(f"no node of province {province} can be reached: {why}")

    # --- fetching ---------------------------------------------------------------------------

    async def prepare(self, items: Iterable[Any]) -> None:
        """Make sure what ``items`` need is here: profiles of their issuers and their
        status lists, fetching what is missing or expired within the request budget.
        Failures are remembered and show in the checks as ``unknown`` with the reason."""
        issuers: set[str] = set()
        lists: dict[str, str] = {}
        for item in items:
            issuer, urls = unverified_references(item)
            entity = entity_id_of_did(issuer) if issuer else None
            if entity is None:
                continue
            issuers.add(entity)
            if entity != self.own_entity_id:  # this node reads its own lists itself
                for url in urls:
                    lists[url] = entity
        if not issuers:
            return
        try:
            async with asyncio.timeout(self.request_budget):
                await asyncio.gather(*(self._ensure_profile(e) for e in issuers))
                await asyncio.gather(*(self._ensure_list(u, e) for u, e in lists.items()))
        except TimeoutError:
            log.warning("peer data for a verification took longer than %.1f s", self.request_budget)

    async def refresh(self) -> None:
        """Renew, in the background, what has passed half its life."""
        now = self.clock()
        due_profiles = [
            entity
            for entity, profile in self._profiles.items()
            if now >= self._fetched[entity] + (profile.expires_at - self._fetched[entity]) / 2
        ]
        due_lists = [
            (url, found)
            for url, found in self._lists.items()
            if now - found.confirmed_at >= self.status_max_age / 2
        ]
        # Chains first: a list signed with a key the member rotated to is verified
        # with the renewed chain's key history, not refused by the old one.
        await asyncio.gather(
            *(self._single(f"profile {e}", self._fetch_profile(e)) for e in due_profiles),
            return_exceptions=True,
        )
        await asyncio.gather(
            *(self._single(f"list {u}", self._fetch_list(u, f.did, f)) for u, f in due_lists),
            return_exceptions=True,
        )

    async def run(self, interval: float = 5.0) -> None:
        """The background refresher (a task of the node's lifespan)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except Exception:  # the refresher must survive anything a peer does
                log.exception("federation refresh failed")

    def _fresh_profile(self, entity: str) -> IssuerProfile | None:
        found = self._profiles.get(entity)
        return found if found is not None and self.clock() < found.expires_at else None

    def _recent_failure(self, failures: Mapping[str, tuple[float, str]], key: str) -> bool:
        failure = failures.get(key)
        return failure is not None and time.monotonic() - failure[0] < self.failure_ttl

    async def _ensure_members(self) -> None:
        if time.monotonic() - self._members_at > self.members_ttl:
            await self._single("members", self._fetch_members())

    async def _fetch_members(self) -> None:
        """The anchor's list of its members (§8.2), found through its configuration
        verified with the anchor keys this node was configured with."""
        now = self.clock()
        try:
            result = await self.client.fetch(
                entity_configuration_url(self.trust_anchor), accept=(ENTITY_STATEMENT,)
            )
            configuration = verify_entity_statement(
                result.body or b"",
                self.anchors[self.trust_anchor],
                now,
                issuer=self.trust_anchor,
                subject=self.trust_anchor,
                allow_http_loopback=self.allow_http_loopback,
            )
            endpoint = (
                (configuration.metadata or {}).get("federation_entity", {}).get("federation_list_endpoint")
            )
            if not isinstance(endpoint, str) or not endpoint.startswith(self.trust_anchor + "/"):
                raise FederationError("the trust anchor publishes no list endpoint of its own")
            listed = orjson.loads(
                (await self.client.fetch(endpoint, accept=("application/json",))).body or b""
            )
            if not isinstance(listed, list) or not all(isinstance(m, str) for m in listed):
                raise FederationError("the trust anchor's member list is not a list of entity identifiers")
        except (FederationError, orjson.JSONDecodeError) as exc:
            detail = exc.detail if isinstance(exc, FederationError) else "the member list is not JSON"
            log.warning("trust anchor member list unavailable: %s", detail)
            self._members_at = time.monotonic() - self.members_ttl + self.failure_ttl
            self._members_failure = detail
            return
        self.members = frozenset(m.rstrip("/") for m in listed)
        self.allowed.update(self.members)
        self._members_at = time.monotonic()
        self._members_failure = ""

    async def _ensure_profile(self, entity: str) -> None:
        if self._fresh_profile(entity) is not None or self._recent_failure(self._failures, entity):
            return
        await self._ensure_members()
        if entity not in self.members and entity != self.own_entity_id:
            why = self._members_failure or "the trust anchor does not list it as a member"
            self._failures[entity] = (time.monotonic(), f"{entity} is not a known federation member: {why}")
            return
        await self._single(f"profile {entity}", self._fetch_profile(entity))

    async def _ensure_list(self, url: str, entity: str) -> None:
        profile = self._fresh_profile(entity)
        if profile is None or not url.startswith(profile.status_list_base):
            return
        found = self._lists.get(url)
        if found is not None and self.clock() - found.confirmed_at <= self.status_max_age / 2:
            return
        if not self._recent_failure(self._list_failures, url):
            await self._single(f"list {url}", self._fetch_list(url, profile.did, found))

    async def _single(self, key: str, work: Any) -> None:
        """One fetch of ``key`` at a time; concurrent callers wait for it."""
        pending = self._pending.get(key)
        if pending is not None:
            work.close()
            await asyncio.shield(pending)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            await work
        finally:
            del self._pending[key]
            future.set_result(None)

    async def _fetch_profile(self, entity: str) -> None:
        loop = asyncio.get_running_loop()
        now = self.clock()

        own_url = entity_configuration_url(self.own_entity_id)

        def fetch(url: str) -> bytes:
            if url == own_url and self.own_configuration is not None:
                return self.own_configuration()
            future = asyncio.run_coroutine_threadsafe(
                self.client.fetch(url, accept=(ENTITY_STATEMENT,)), loop
            )
            body = future.result().body
            return body or b""

        try:
            chain = await asyncio.to_thread(
                resolve_trust_chain,
                entity,
                self.anchors,
                now,
                fetch,
                allow_http_loopback=self.allow_http_loopback,
            )
            profile = profile_from_metadata(entity, chain.metadata, chain.expires_at, chain.trust_anchor)
        except FederationError as exc:
            self._failures[entity] = (time.monotonic(), exc.detail)
            log.warning("no trust chain for %s: %s", entity, exc.detail)
            return
        self._failures.pop(entity, None)
        previous = self._profiles.get(entity)
        self._profiles[entity] = profile
        self._fetched[entity] = now
        if previous != profile:
            self.version += 1
        log.info("trust chain for %s valid until %s", entity, profile.expires_at.isoformat())

    async def _fetch_list(self, url: str, did: str, previous: PeerList | None) -> None:
        entity = entity_id_of_did(did)
        profile = self._fresh_profile(entity or "")
        if profile is None:
            return
        try:
            result = await self.client.fetch(
                url,
                accept=STATUS_LIST_TYPES,
                etag=previous.etag if previous else None,
                max_bytes=MAX_STATUS_LIST_BYTES,
            )
            now = self.clock()
            if result.not_modified and previous is not None:
                self._lists[url] = replace(previous, confirmed_at=now)
            else:
                body = result.body or b""
                try:
                    self._lists[url] = self._verified_list(url, profile, body, result.etag, now)
                except ResolutionError:
                    # Signed with a key the cached chain does not list: the member may
                    # have rotated. Renew its chain once and try the same list again.
                    assert entity is not None
                    await self._single(f"profile {entity}", self._fetch_profile(entity))
                    renewed = self._fresh_profile(entity)
                    if renewed is None or renewed == profile:
                        raise
                    self._lists[url] = self._verified_list(url, renewed, body, result.etag, now)
        except (FederationError, SigningError, RegistryError) as exc:
            self._list_failures[url] = (time.monotonic(), exc.detail)
            log.warning("status list %s refused: %s", url, exc.detail)
            return
        self._list_failures.pop(url, None)

    @staticmethod
    def _verified_list(
        url: str, profile: IssuerProfile, body: bytes, etag: str | None, now: datetime
    ) -> PeerList:
        """The list credential's proof verified with the member's key valid when it
        signed (the chain says which), then its bits. A Status List Token (an SD-JWT
        VC's list) is verified by :func:`_verified_token_list`."""
        if not body.lstrip().startswith(b"{"):
            return _verified_token_list(url, profile, body, etag, now)
        document = jcs.loads(body)
        if not isinstance(document, dict) or document.get("id") != url:
            raise RegistryError("the list credential is not the one asked for")
        verified = data_integrity.verify_issuer_proof(document, _ListResolver(profile), now)
        kid = verified.verification_method.id.partition("#")[2]
        if verified.created is None:
            raise RegistryError("the list credential's proof does not say when it was made")
        profile.ring().check_valid_at(kid, verified.created)
        subject = document.get("credentialSubject")
        if not isinstance(subject, Mapping) or subject.get("type") != "BitstringStatusList":
            raise RegistryError("not a BitstringStatusList credential")
        valid_until = document.get("validUntil")
        if valid_until is not None and data_integrity.parse_datetime(valid_until, "validUntil") <= now:
            raise RegistryError("the list credential has expired")
        bits = Bitstring.decode(subject.get("encodedList", ""))
        purpose = subject.get("statusPurpose")
        if not isinstance(purpose, str):
            raise RegistryError("the list names no statusPurpose")
        reasons = _published_reasons(subject.get("statusReasons"), bits)
        return PeerList(url, profile.did, purpose, bits.to_bytes(), bits.length, etag, now, reasons)


#: The largest Status List Token list (bytes, decompressed) a member may publish: a
#: revocation list of 131,072 entries at 2 bits is 32 KiB; 16 times that is ample.
MAX_TOKEN_LIST_BYTES = 512 * 1024


def _verified_token_list(
    url: str, profile: IssuerProfile, body: bytes, etag: str | None, now: datetime
) -> PeerList:
    """A member's Status List Token (draft-ietf-oauth-status-list §5.1: ``typ``
    statuslist+jwt, ``sub`` its own URI, ``status_list`` {bits, lst}): signed with a key
    of the member's history valid at its ``iat``, not expired, 2 bits an entry (the
    registry's lists), ``lst`` inflated within a bound. Kept with purpose ``token``."""
    verified = jose.verify_jws(body, _ListResolver(profile), frozenset({TOKEN_LIST_TYPE}), "assertionMethod")
    claims = verified.payload
    issued, expires = claims.get("iat"), claims.get("exp")
    if type(issued) is not int or (expires is not None and type(expires) is not int):
        raise RegistryError("the status list token's iat and exp must be integers")
    kid = verified.verification_method.id.partition("#")[2]
    profile.ring().check_valid_at(kid, datetime.fromtimestamp(min(max(issued, 0), 2**33), UTC))
    if claims.get("sub") != url:
        raise RegistryError("the status list token is not the one asked for (sub)")
    if expires is not None and expires <= int(now.timestamp()):
        raise RegistryError("the status list token has expired")
    listed = claims.get("status_list")
    if (
        not isinstance(listed, Mapping)
        or listed.get("bits") != TOKEN_BITS
        or not isinstance(listed.get("lst"), str)
    ):
        raise RegistryError("the status list token's status_list is not 2-bit entries with lst")
    try:
        inflater = zlib.decompressobj()
        data = inflater.decompress(b64url_decode(listed["lst"]), MAX_TOKEN_LIST_BYTES + 1)
    except (EncodingError, zlib.error):
        raise RegistryError("the status list token's lst is not base64url DEFLATE") from None
    if len(data) > MAX_TOKEN_LIST_BYTES or inflater.unconsumed_tail:
        raise RegistryError("the status list token's list is too large")
    ends = None if expires is None else datetime.fromtimestamp(min(expires, 2**33), UTC)
    return PeerList(url, profile.did, "token", data, len(data) * 4, etag, now, expires_at=ends)


def _published_reasons(value: Any, bits: Bitstring) -> dict[int, str]:
    """The registry's ``statusReasons`` member (index -> reason code of a set bit), kept
    only where it is well formed; reasons never decide a verdict, the bits do."""
    if not isinstance(value, Mapping):
        return {}
    reasons: dict[int, str] = {}
    for key, code in value.items():
        if (
            isinstance(key, str)
            and key.isascii()
            and key.isdigit()
            and len(key) <= 10
            and isinstance(code, str)
            and 0 < len(code) <= 64
            and int(key) < bits.length
            and bits.get(int(key))
        ):
            reasons[int(key)] = code
    return reasons
