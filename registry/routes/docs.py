"""The node's own documentation, served without any other host.

- ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) load their JavaScript, CSS and icon from
  ``/docs/static/<version>/…``: the files the ``fastapi-offline`` package ships (Swagger UI 5,
  ReDoc 2), read from the installed package, never copied into this repository. The
  package's version is part of the URL, so the assets are cached as immutable and a new
  release changes their URLs.
- ``/problems/<slug>``: a short page (Chinese first, English beside) for every problem
  ``type`` URI the registry answers with (``registry.errors.PROBLEM_BASE_URI`` + slug): its
  title, HTTP status and what the client should do. ``/problems`` lists them.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import cache
from http import HTTPStatus
from importlib.metadata import version
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

# Every module that defines a RegistryError subclass, imported so that all of them are
# registered before the problem types are collected (tests/test_docs.py walks every module
# of the package and checks that none is missing).
import registry.accounts
import registry.credentials.errors
import registry.federation.anchor
import registry.federation.client
import registry.federation.entity
import registry.federation.errors
import registry.federation.metadata
import registry.federation.resolve
import registry.routes.federation
import registry.routes.vcapi
import registry.signing.errors  # noqa: F401
from registry.errors import PROBLEM_BASE_URI, NotFoundError, RegistryError

router = APIRouter()

# --- Swagger UI and ReDoc -------------------------------------------------------------

ASSETS_VERSION = version("fastapi-offline")
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
ASSETS_PATH = f"/docs/static/{ASSETS_VERSION}"
#: The files served, with their media types (RFC 9239 for JavaScript).
ASSET_MEDIA_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
#: The version is in the URL: a cached copy never goes stale.
ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable"
#: The pages name the versioned assets; they are revalidated so an upgrade shows at once.
PAGE_CACHE_CONTROL = "no-cache"


@router.get("/docs", include_in_schema=False)
def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    page = get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} — Swagger UI",
        swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
        # Swagger UI's default validator badge would ask validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )
    page.headers["Cache-Control"] = PAGE_CACHE_CONTROL
    return page


@router.get("/redoc", include_in_schema=False)
def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    page = get_redoc_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} — ReDoc",
        redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
        with_google_fonts=False,
    )
    page.headers["Cache-Control"] = PAGE_CACHE_CONTROL
    return page


@router.get("/docs/static/{assets_version}/{name}", include_in_schema=False)
def docs_asset(assets_version: str, name: str) -> FileResponse:
    media_type = ASSET_MEDIA_TYPES.get(name)
    if media_type is None or assets_version != ASSETS_VERSION:
        raise NotFoundError(f"no documentation asset {name!r} in version {assets_version!r}")
    return FileResponse(
        ASSETS_DIR / name,
        media_type=media_type,
        headers={"Cache-Control": ASSET_CACHE_CONTROL, "X-Content-Type-Options": "nosniff"},
    )


# --- Problem types --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProblemType:
    """One problem ``type`` URI and its page."""

    slug: str
    status: int
    title_en: str
    title_zh: str
    advice_zh: str
    advice_en: str

    @property
    def uri(self) -> str:
        return PROBLEM_BASE_URI + self.slug


#: The Chinese title and what the client should do (zh, en), by slug. Every slug of every
#: RegistryError subclass and of the problems the handlers and middleware answer with
#: directly (HANDLER_PROBLEMS) has an entry; the English title and status come from the
#: error class.
GUIDANCE: dict[str, tuple[str, str, str]] = {
    # registry.errors
    "registry-error": (
        "注册系统错误",
        "节点出现未分类的错误。稍后重试；如持续出现，请把响应中的 instance 和时间告知节点运维方。",
        "The node met an unclassified error. Try again later; if it persists, give the node's "
        "operator the response's instance and the time.",
    ),
    "invalid-input": (
        "输入内容不可接受",
        "请求格式正确，但内容不被接受。按 detail 的说明修改后再发送；原样重发会得到同样的答复。",
        "The request is well-formed but its content is not acceptable. Change it as detail says; "
        "sending it again unchanged gets the same answer.",
    ),
    "not-found": (
        "未找到",
        "地址、证书编号或标识不存在，或该记录不属于你（两者答复相同）。请核对后再请求，不要原样重试。",
        "The address, certificate number or identifier does not exist, or the record is not yours "
        "to see (both get the same answer). Check it; do not retry unchanged.",
    ),
    "conflict": (
        "与当前状态冲突",
        "请求与记录的当前状态冲突（例如编号或批次号已用于其他内容）。先读取当前状态，或换用新的编号，再决定是否重发。",
        "The request conflicts with the record's current state (for example a code or batch id "
        "already used for other content). Read the current state, or use a new id, before sending again.",
    ),
    "unsupported-media-type": (
        "请求正文的媒体类型不被接受",
        "该端点只接受 detail 所述的媒体类型。按该类型发送请求正文（Content-Type 与之一致）。",
        "The endpoint takes only the media type detail names. Send the body as that type, with a "
        "matching Content-Type.",
    ),
    "recognition-application-exists": (
        "该凭证在该省已有认可申请",
        "同一凭证在同一省份的申请正在审核或已获认可。"
        "查看已有申请（GET /v1/holder/recognition-applications）的进展。",
        "An application of this credential in that province is waiting for a decision or was "
        "recognised. Follow the existing one (GET /v1/holder/recognition-applications).",
    ),
    "credential-no-longer-valid": (
        "该凭证在本节点已不再有效",
        "认可前重新核验原凭证：它已被撤销、暂停或暂时无法确认状态，不能予以认可，只能不予认可。",
        "The original credential was verified again before recognising it: it is revoked, suspended "
        "or its status cannot be confirmed now, so it cannot be recognised; it can be refused.",
    ),
    "peer-unavailable": (
        "无法连接其他省份的节点",
        "请求需要其他省份的节点，但该节点无法连接，或拒绝了请求；本节点未保存任何内容。"
        "稍后重试；如持续出现，请告知本节点运维方。",
        "The request needs another province's node, which cannot be reached or refused it; nothing "
        "was kept here. Try again later; if it persists, tell this node's operators.",
    ),
    "bad-node-request": (
        "节点认证请求不被接受",
        "该端点只接受联盟成员节点用其 DID 密钥签名的 node-request+jwt，"
        "且须发给本节点、本地址、本用途并在有效期内。检查签名密钥、aud、htu、purpose、iat 和 exp。",
        "The endpoint takes only a node-request+jwt signed with a federation member's DID key, for "
        "this node, this URL and this purpose, within its lifetime. Check the signing key, aud, htu, "
        "purpose, iat and exp.",
    ),
    "unauthenticated": (
        "需要身份认证",
        "在 Authorization 请求头中以 Bearer 方式发送访问令牌（POST /v1/auth/token 获取）"
        "或 HR 客户端的 API 密钥；令牌过期时重新登录。",
        "Send an access token (from POST /v1/auth/token) or an HR client's API key as a Bearer token "
        "in the Authorization header; sign in again when the token has expired.",
    ),
    "forbidden": (
        "当前角色或权限范围不允许",
        "身份已认证，但角色或 scope 不够。请管理员授予所需的角色或 scope，或换用有权限的账号；重试无用。",
        "You are authenticated, but your role or scope does not allow this. Ask an admin for the "
        "role or scope, or use an account that has it; retrying does not help.",
    ),
    "password-change-required": (
        "必须修改密码",
        "该账号使用管理员设置的一次性密码。先通过 POST /v1/auth/password 设置新密码，再登录。",
        "The account has a one-time password set by an admin. Set a new one with "
        "POST /v1/auth/password, then sign in.",
    ),
    "payload-too-large": (
        "请求体过大",
        "请求体超过该端点的上限（detail 写明上限）。缩小请求体，批量请求请拆成几批发送。",
        "The body is over the endpoint's limit (detail names it). Send less; split a batch into "
        "several smaller ones.",
    ),
    "rate-limited": (
        "请求过多",
        "已超过该客户端的速率限制。等待 Retry-After 响应头给出的秒数后再发送；批量核验按凭证数计算。",
        "The client is over its rate. Wait the seconds the Retry-After header gives, then send "
        "again; a verification batch costs one per credential.",
    ),
    "service-unavailable": (
        "服务繁忙",
        "节点暂时繁忙，未执行也未提交任何操作。等待 Retry-After 秒后原样重发。",
        "The node is busy; nothing was done or committed. Wait the Retry-After seconds and send "
        "the same request again.",
    ),
    # registry.accounts, registry.routes.vcapi
    "invalid-credential": (
        "本节点无法按原样签发该凭证",
        "VC API 签发请求中的凭证不是本节点能签发的（类型、颁发者或字段不符）。按 detail 修改凭证后再发送。",
        "The VC API issuance request holds a credential this node cannot sign as given (type, "
        "issuer or members). Change it as detail says.",
    ),
    "unsupported-option": (
        "不支持的选项",
        "去掉或更改 options 中 detail 指出的选项后再发送。",
        "Remove or change the option in options that detail names, then send again.",
    ),
    # registry.credentials.errors
    "credential-error": (
        "凭证错误",
        "按 detail 的说明修改凭证或请求。",
        "Change the credential or the request as detail says.",
    ),
    "bad-status-list": (
        "状态列表不可用",
        "凭证引用的状态列表（Bitstring Status List）格式错误或用途不符。"
        "稍后重试；如持续出现，请联系签发机构。",
        "The status list (Bitstring Status List) the credential names is malformed or of the wrong "
        "purpose. Try again later; if it persists, contact the issuer.",
    ),
    "status-list-full": (
        "状态列表已无空闲索引",
        "这是节点的问题，不是请求的问题。请联系节点运维方。",
        "This is the node's problem, not the request's. Contact the node's operator.",
    ),
    "invalid-holder-id": (
        "身份证件号码无效",
        "身份证号的格式或校验位（GB 11643）不对，或护照号格式不对。核对证件号码后再发送。",
        "The identity card number fails its format or check character (GB 11643), or the passport "
        "number its format. Check the number and send again.",
    ),
    "batch-rejected": (
        "批次被拒绝，未签发任何凭证",
        "errors 列出每一行的每个错误（文件自身的行号和字段名）。全部改正后，用同一批次号重新提交整个批次。",
        "errors lists every error of every row (the file's own line numbers and field names). "
        "Correct them all and submit the whole batch again under the same batch id.",
    ),
    "status-transition-not-allowed": (
        "不允许的状态变更",
        "凭证当前状态不允许该变更（例如撤销是最终的，不能恢复）。先查询凭证的当前状态。",
        "The credential's current state does not allow this change (revocation, for one, is "
        "final). Look up the credential's state first.",
    ),
    "invalid-reason-code": (
        "原因代码不适用于该状态变更",
        "从 GET /v1/status-reasons 中选择适用于该操作（撤销、暂停、恢复）的原因代码。",
        "Choose a reason code for this change (revoke, suspend, reinstate) from GET /v1/status-reasons.",
    ),
    "credential-revoked": (
        "凭证已被撤销",
        "已撤销的凭证不再生成 VC-JWT 或核验码；持证人仍可读取签发时的文件。重试无用。",
        "A revoked credential gets no new VC-JWT or verification code; its holder can still read "
        "the file as issued. Retrying does not help.",
    ),
    # registry.signing.errors
    "signing-error": (
        "签名错误",
        "凭证或令牌的签名部分有问题。按 detail 的说明处理；不要接受该凭证。",
        "Something is wrong with the credential's or token's signature. See detail; do not accept "
        "the credential.",
    ),
    "bad-encoding": (
        "编码格式错误",
        "base58btc、base64url 或 multibase 值格式错误。确认凭证未被修改或截断，按签发时的原样发送。",
        "A base58btc, base64url or multibase value is malformed. Make sure the credential was not "
        "altered or cut short; send it exactly as issued.",
    ),
    "bad-key": (
        "密钥材料不可用",
        "凭证或请求中的密钥格式错误或 kid 未知。向签发机构确认其公开的密钥。",
        "A key in the credential or request is malformed or its kid is unknown. Check the issuer's "
        "published keys with the issuer.",
    ),
    "key-not-valid-at-instant": (
        "该时刻密钥不可用于签名",
        "签名时间不在该密钥的有效期内（尚未启用、已退役或已标记泄露）。不要接受该凭证，请联系签发机构。",
        "The signing instant is outside the key's validity (not yet active, retired or marked "
        "compromised). Do not accept the credential; contact the issuer.",
    ),
    "not-canonicalizable": (
        "无法按 RFC 8785 规范化",
        "JSON 中含有 NaN、超出范围的数字或孤立的代理字符。修正数据后再发送。",
        "The JSON holds NaN, a number out of range or a lone surrogate. Correct the data and send again.",
    ),
    "duplicate-member": (
        "JSON 对象中有重复的成员名",
        "同一对象中的成员名必须唯一。删除重复的成员后再发送。",
        "Member names in an object must be unique. Remove the duplicate and send again.",
    ),
    "unresolvable-verification-method": (
        "无法解析验证方法",
        "颁发者的 DID 或验证方法暂时无法获取。稍后重新核验。",
        "The issuer's DID or verification method could not be resolved now. Verify again later.",
    ),
    "unknown-verification-method": (
        "控制者从未拥有此验证方法",
        "签名所用的密钥从未属于颁发者。不要接受该凭证。",
        "The signing key never belonged to the issuer. Do not accept the credential.",
    ),
    "verification-failed": (
        "核验失败",
        "凭证未通过核验。不要接受该凭证；detail 说明了原因。",
        "The credential did not verify. Do not accept it; detail says why.",
    ),
    "invalid-signature": (
        "签名无效",
        "凭证内容被修改过，或签名是伪造的。不要接受；可请持证人从签发节点重新下载。",
        "The credential was altered or its signature forged. Do not accept it; the holder can "
        "download it again from the issuing node.",
    ),
    "bad-proof": (
        "证明不可接受",
        "proof 的 type、cryptosuite、proofPurpose 或 created 不符合要求（eddsa-jcs-2022）。不要接受该凭证。",
        "The proof's type, cryptosuite, proofPurpose or created is not acceptable (eddsa-jcs-2022). "
        "Do not accept the credential.",
    ),
    "issuer-mismatch": (
        "验证方法不受颁发者控制",
        "签名密钥不属于凭证声称的颁发者。不要接受该凭证。",
        "The signing key is not controlled by the issuer the credential names. Do not accept it.",
    ),
    "bad-token": (
        "令牌格式错误或不可接受",
        "VC-JWT 或访问令牌格式错误、算法不允许或 typ 不对。按签发节点给出的原样发送 VC-JWT。",
        "The VC-JWT or token is malformed, uses a forbidden algorithm or the wrong typ. Send the "
        "VC-JWT exactly as the issuing node gave it.",
    ),
    # registry.federation
    "federation-error": (
        "联邦错误",
        "与其他省级节点或信任锚的联邦交互失败。按 detail 处理；如持续出现，请联系节点运维方。",
        "A federation exchange with another node or the trust anchor failed. See detail; if it "
        "persists, contact the node's operator.",
    ),
    "bad-entity-statement": (
        "实体声明不可接受",
        "实体声明格式、typ、alg、声明项或 crit 不符合 OpenID Federation 1.0。签发该声明的一方需要修正。",
        "The entity statement's form, typ, alg, claims or crit break OpenID Federation 1.0. The "
        "entity that signed it must correct it.",
    ),
    "entity-statement-signature-invalid": (
        "实体声明的签名无法用受担保的密钥核验",
        "声明的 kid 未被上级担保，或签名无效。对方节点需向信任锚更新其联邦密钥。",
        "The statement's kid is not vouched for by its superior, or the signature is invalid. The "
        "entity must have its federation keys updated at the trust anchor.",
    ),
    "entity-statement-not-valid-now": (
        "实体声明已过期或尚未生效",
        "检查双方时钟是否准确；对方需重新签发声明。稍后重试。",
        "Check that both clocks are right; the entity must issue a fresh statement. Try again later.",
    ),
    "metadata-policy-error": (
        "元数据策略错误",
        "信任链上的 metadata_policy 无法合并或应用（OpenID Federation 1.0 §6.1）。请联系信任锚运维方。",
        "The trust chain's metadata_policy cannot be merged or applied (OpenID Federation 1.0 "
        "§6.1). Contact the trust anchor's operator.",
    ),
    "invalid-trust-chain": (
        "无法解析或验证信任链",
        "签发节点与信任锚之间没有有效的信任链（未被接纳、链断裂或超出限制）。请联系节点运维方。",
        "There is no valid trust chain between the issuing node and the trust anchor (not admitted, "
        "broken or over its limits). Contact the node's operator.",
    ),
    "trust-chain-constraint-violated": (
        "信任链违反约束",
        "信任链违反 max_path_length、命名或实体类型约束（§6.2）。请联系信任锚运维方。",
        "The trust chain breaks a max_path_length, naming or entity-type constraint (§6.2). "
        "Contact the trust anchor's operator.",
    ),
    "trust-chain-fetch-limit": (
        "信任链解析达到获取次数上限",
        "解析信任链需要的请求过多。请联系节点运维方。",
        "Resolving the trust chain needed too many fetches. Contact the node's operator.",
    ),
    "federation-fetch-failed": (
        "无法获取联邦声明",
        "对方节点暂时无法访问或答复不可用。稍后重试；如持续出现，请联系节点运维方。",
        "The other node could not be reached or gave an unusable answer. Try again later; if it "
        "persists, contact the node's operator.",
    ),
    "peer-url-not-allowed": (
        "该地址不是登记的联邦地址",
        "本节点只访问联邦中登记的地址。请联系节点运维方核对成员登记。",
        "The node fetches only the federation's registered URLs. Ask the node's operator to check "
        "the member's registration.",
    ),
    "peer-address-not-allowed": (
        "对方主机不是公网地址",
        "对方域名解析到内网或保留地址，本节点拒绝访问。请联系节点运维方。",
        "The peer's name resolves to a private or reserved address, which the node refuses. "
        "Contact the node's operator.",
    ),
    "peer-redirect-refused": (
        "对方返回了重定向",
        "本节点不跟随联邦请求的重定向。对方节点需在登记的地址上直接答复。",
        "The node does not follow redirects on federation requests. The peer must answer at its "
        "registered URL.",
    ),
    "peer-response-too-large": (
        "对方响应超过大小上限",
        "对方答复过大，已被拒绝。请联系节点运维方。",
        "The peer's answer was too large and was refused. Contact the node's operator.",
    ),
    "peer-timeout": (
        "对方未及时响应",
        "对方节点在时限内没有答复。稍后重试。",
        "The peer did not answer in time. Try again later.",
    ),
    "peer-not-reached": (
        "无法连接对方节点",
        "未能与对方节点建立连接，请求没有发出。稍后重试。",
        "No connection could be made to the peer: the request was not sent. Try again later.",
    ),
    "peer-connect-timeout": (
        "连接对方节点超时",
        "在时限内未能与对方节点建立连接，请求没有发出。稍后重试。",
        "The connection to the peer was not made in time: the request was not sent. Try again later.",
    ),
    "peer-bad-status": (
        "对方返回了意外的状态码",
        "对方节点答复了错误状态。稍后重试；如持续出现，请联系节点运维方。",
        "The peer answered with an unexpected status. Try again later; if it persists, contact "
        "the node's operator.",
    ),
    "peer-wrong-media-type": (
        "对方返回了意外的媒体类型",
        "对方节点答复的 Content-Type 不对。请联系节点运维方。",
        "The peer answered with the wrong Content-Type. Contact the node's operator.",
    ),
    "peer-transport-error": (
        "无法连接对方或对方的 HTTP 答复异常",
        "网络或 TLS 连接失败，或对方的 HTTP 答复损坏。稍后重试。",
        "The network or TLS connection failed, or the peer's HTTP was broken. Try again later.",
    ),
    "peer-bad-content-encoding": (
        "对方响应的内容编码不可接受",
        "对方使用了不被接受的 Content-Encoding。请联系节点运维方。",
        "The peer used a Content-Encoding that is not accepted. Contact the node's operator.",
    ),
    "bad-historical-keys": (
        "历史密钥 JWT 不可接受",
        "信任锚的历史密钥列表（§8.7）格式或签名不对。请联系信任锚运维方。",
        "The trust anchor's historical keys JWT (§8.7) is malformed or does not verify. Contact "
        "the trust anchor's operator.",
    ),
    "federation-key-not-valid-at-instant": (
        "该时刻联邦密钥无效",
        "该联邦密钥在相关时刻已过期、被撤销或未知。请联系节点运维方。",
        "The federation key was expired, revoked or unknown at that instant. Contact the node's operator.",
    ),
    "bad-issuer-metadata": (
        "颁发者元数据不可接受",
        "成员节点的 yrd_credential_issuer 元数据不可用。请联系该节点或信任锚的运维方。",
        "A member's yrd_credential_issuer metadata is unusable. Contact that node's or the trust "
        "anchor's operator.",
    ),
    "entity-configuration-unavailable": (
        "无法生成实体配置",
        "本节点无法生成其实体配置（例如缺少有效的联邦密钥）。请联系节点运维方。",
        "This node cannot make its entity configuration (for example, no valid federation key). "
        "Contact the node's operator.",
    ),
    "resolve-failed": (
        "无法解析实体",
        "信任锚的 resolve 端点无法解析该实体。核对 sub 和 trust_anchor 参数；稍后重试。",
        "The anchor's resolve endpoint could not resolve the entity. Check sub and trust_anchor; "
        "try again later.",
    ),
    "resolve-trust-anchor-unknown": (
        "不是本解析器使用的信任锚",
        "trust_anchor 参数应为本信任锚的实体标识。",
        "Set trust_anchor to this anchor's entity identifier.",
    ),
    "resolve-invalid-trust-chain": (
        "主体到信任锚之间没有有效的信任链",
        "该实体未被接纳或其信任链无效。请联系信任锚运维方。",
        "The subject is not admitted or its trust chain is invalid. Contact the trust anchor's operator.",
    ),
    "resolve-invalid-metadata": (
        "主体元数据未通过信任链的元数据策略",
        "该实体的元数据不符合信任链上的 metadata_policy。该实体需要修正其元数据。",
        "The subject's metadata does not pass the chain's metadata_policy. The subject must "
        "correct its metadata.",
    ),
    "resolve-subject-unreachable": (
        "无法获取信任链中的声明",
        "信任链中的某个声明暂时无法获取。稍后重试。",
        "A statement of the trust chain could not be fetched now. Try again later.",
    ),
    "bad-resolve-response": (
        "解析响应不可接受",
        "信任锚的 resolve 响应无法核验。请联系信任锚运维方。",
        "The anchor's resolve response does not verify. Contact the trust anchor's operator.",
    ),
    "invalid-federation-input": (
        "联邦登记输入不可接受",
        "接纳成员或授权的输入有误（实体标识、DID、省份、密钥或期限）。按 detail 修改后再发送。",
        "The admission or authorisation input is wrong (entity identifier, DID, province, keys "
        "or dates). Change it as detail says.",
    ),
    "invalid-federation-request": (
        "联邦请求不可接受",
        "请求参数缺失或格式错误（例如 sub 不是实体标识）。按 detail 修改请求。",
        "A parameter is missing or malformed (for example sub is not an entity identifier). "
        "Change the request as detail says.",
    ),
    "unsupported-federation-parameter": (
        "不支持的联邦请求参数",
        "去掉 detail 指出的参数（例如 trust_marked、trust_mark_type）后再发送。",
        "Remove the parameter detail names (such as trust_marked or trust_mark_type) and send again.",
    ),
    # answered by the handlers (registry.problems), the middleware (registry.limits) and
    # the VC API's verification results (registry.routes.vcapi)
    "invalid-request": (
        "请求无效",
        "请求未通过校验（JSON 格式、字段类型、缺少或多余的字段）。"
        "errors 列出每个问题的位置和原因，逐一改正后再发送。",
        "The request failed validation (JSON syntax, member types, missing or unknown members). "
        "errors gives the location and reason of each; correct them and send again.",
    ),
    "database-busy": (
        "数据库繁忙",
        "未提交任何内容。等待 Retry-After 秒后原样重发。",
        "Nothing was committed. Wait the Retry-After seconds and send the same request again.",
    ),
    "internal-error": (
        "内部错误",
        "节点未能完成请求。稍后重试；如持续出现，请把 instance 和时间告知节点运维方。",
        "The node could not complete the request. Try again later; if it persists, give the "
        "node's operator the instance and the time.",
    ),
    "credentials-in-query": (
        "查询字符串中含有凭据",
        "API 密钥和访问令牌只能放在 Authorization 请求头中，不能放在 URL 里。"
        "URL 中出现过的密钥可能已写入日志，请轮换该密钥。",
        "Send API keys and access tokens in the Authorization header, never in the URL. A key that "
        "was in a URL may be in logs: rotate it.",
    ),
    "not-verified": (
        "未通过核验",
        "VC API 核验结果：至少一项检查失败（errors、problemDetails 列出）。不要接受该凭证。",
        "VC API verification: at least one check failed (listed in errors and problemDetails). "
        "Do not accept the credential.",
    ),
    "verification-incomplete": (
        "无法完成全部核验",
        "VC API 核验结果：某项检查暂时无法进行（例如状态列表无法获取），warnings 列出。稍后重新核验。",
        "VC API verification: a check could not be made now (for example the status list could "
        "not be fetched), listed in warnings. Verify again later.",
    ),
    "check-failed": (
        "一项检查失败",
        "problemDetails 中的一项：detail 写明失败的检查和原因。不要接受该凭证。",
        "An entry of problemDetails: detail names the check that failed and why. Do not accept "
        "the credential.",
    ),
    "check-not-made": (
        "一项检查未能进行",
        "problemDetails 中的一项：detail 写明未能进行的检查。稍后重新核验。",
        "An entry of problemDetails: detail names the check that could not be made. Verify again later.",
    ),
    "method-not-allowed": (
        "不允许的请求方法",
        "该路径不支持此 HTTP 方法；Allow 响应头列出可用的方法。",
        "The path does not support this HTTP method; the Allow header lists those it does.",
    ),
}

#: Problems answered without a RegistryError subclass: slug → (status, English title).
HANDLER_PROBLEMS: dict[str, tuple[int, str]] = {
    "invalid-request": (422, "Request is not valid"),
    "database-busy": (503, "Database busy"),
    "internal-error": (500, "Internal error"),
    "credentials-in-query": (400, "Credentials in the query string"),
    "not-verified": (400, "Not verified"),
    "verification-incomplete": (422, "Could not be fully verified"),
    "check-failed": (400, "A check failed"),
    "check-not-made": (422, "A check could not be made"),
    "method-not-allowed": (405, "Method Not Allowed"),
}


def _error_classes() -> list[type[RegistryError]]:
    found: list[type[RegistryError]] = []
    pending: list[type[RegistryError]] = [RegistryError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def _page_for(slug: str, status: int, title_en: str) -> ProblemType:
    # A slug without written guidance still gets a page (tests/test_docs.py insists
    # that every slug has guidance, so this stays the exception).
    title_zh, advice_zh, advice_en = GUIDANCE.get(
        slug,
        (
            title_en,
            "请阅读 detail 所述原因；如需帮助，请联系节点管理员。",
            "Read the reason in detail; ask the node's operators if it is unclear.",
        ),
    )
    return ProblemType(slug, status, title_en, title_zh, advice_zh, advice_en)


@cache
def problem_types() -> dict[str, ProblemType]:
    """Every problem type the registry answers with, by slug."""
    types = {e.slug: _page_for(e.slug, e.status, e.title) for e in _error_classes()}
    for slug, (status, title) in HANDLER_PROBLEMS.items():
        types.setdefault(slug, _page_for(slug, status, title))
    return dict(sorted(types.items()))


def _http_status_problem(slug: str) -> ProblemType | None:
    """registry.problems answers any other HTTP error with its reason phrase as slug."""
    for status in HTTPStatus:
        if status >= 400 and status.phrase.lower().replace(" ", "-").replace("'", "") == slug:
            return ProblemType(
                slug,
                status.value,
                status.phrase,
                f"HTTP {status.value} 错误",
                "按 detail 的说明修改请求；5xx 错误请稍后重试。",
                "Change the request as detail says; for a 5xx error, try again later.",
            )
    return None


_PAGE_STYLE = (
    "body{font-family:system-ui,'PingFang SC','Microsoft YaHei',sans-serif;max-width:62rem;"
    "margin:2rem auto;padding:0 1rem;line-height:1.6;color:#222}"
    "main{display:flex;flex-wrap:wrap;gap:2rem}section{flex:1 1 22rem}"
    "code{background:#f3f3f3;padding:0 .2em;word-break:break-all}"
    "h1{font-size:1.4rem}h2{font-size:1.05rem;margin-bottom:.2rem}"
)


def _page(title: str, body: str) -> HTMLResponse:
    document = (
        '<!doctype html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_PAGE_STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )
    return HTMLResponse(document, headers={"Cache-Control": "public, max-age=86400"})


def _problem_page(p: ProblemType) -> HTMLResponse:
    e = html.escape
    phrase = HTTPStatus(p.status).phrase
    body = (
        f"<p><code>{e(p.uri)}</code></p>\n<main>\n"
        f'<section lang="zh-CN">\n<h1>{e(p.title_zh)}</h1>\n'
        f"<p>HTTP 状态码：<strong>{p.status}</strong> {e(phrase)}</p>\n"
        f"<h2>客户端应当怎么做</h2>\n<p>{e(p.advice_zh)}</p>\n"
        "<p>响应是 RFC 9457 <code>application/problem+json</code> 文档："
        "<code>detail</code> 说明这一次的具体原因，<code>instance</code> 是请求的路径。</p>\n"
        "</section>\n"
        f'<section lang="en">\n<h1>{e(p.title_en)}</h1>\n'
        f"<p>HTTP status: <strong>{p.status}</strong> {e(phrase)}</p>\n"
        f"<h2>What the client should do</h2>\n<p>{e(p.advice_en)}</p>\n"
        "<p>The answer is an RFC 9457 <code>application/problem+json</code> document: "
        "<code>detail</code> says what went wrong this time, <code>instance</code> is the "
        "request's path.</p>\n"
        "</section>\n</main>\n"
        '<p><a href="../problems">所有问题类型 · All problem types</a></p>'
    )
    return _page(f"{p.title_zh} · {p.title_en} ({p.status})", body)


_PAGE_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"description": "A short HTML page, Chinese first, English beside", "content": {"text/html": {}}},
}


@router.get(
    "/problems",
    operation_id="listProblemTypes",
    summary="List the problem types",
    tags=["public"],
    response_class=HTMLResponse,
    responses=_PAGE_RESPONSES,
)
def problem_index() -> HTMLResponse:
    """Every problem ``type`` the registry answers with, linked to its page."""
    items = "\n".join(
        f'<li><a href="problems/{p.slug}"><code>{p.slug}</code></a> {p.status} '
        f'<span lang="zh-CN">{html.escape(p.title_zh)}</span> · '
        f'<span lang="en">{html.escape(p.title_en)}</span></li>'
        for p in problem_types().values()
    )
    body = (
        "<h1>问题类型 · Problem types</h1>\n"
        "<p>每个错误响应都是 RFC 9457 problem+json，其 <code>type</code> 指向下列页面之一。 "
        '<span lang="en">Every error answer is RFC 9457 problem+json whose <code>type</code> '
        "names one of these pages.</span></p>\n"
        f"<ul>\n{items}\n</ul>"
    )
    return _page("问题类型 · Problem types", body)


@router.get(
    "/problems/{slug}",
    operation_id="getProblemType",
    summary="Show a problem type's page",
    tags=["public"],
    response_class=HTMLResponse,
    responses={
        **_PAGE_RESPONSES,
        404: {"description": "No such problem type", "content": {"application/problem+json": {}}},
    },
)
def problem_page(slug: str) -> HTMLResponse:
    """The page of a problem ``type`` URI (``https://registry.yrd.example/problems/<slug>``):
    its title, HTTP status and what the client should do."""
    found = problem_types().get(slug) or _http_status_problem(slug)
    if found is None:
        raise NotFoundError(f"no problem type {slug!r}")
    return _problem_page(found)
