"""A thin Flask host around authlib's ID-JAG grant, for running xaa-conform against it.

The point is to measure authlib, so this file supplies only what authlib asks an application to
supply, and validates nothing itself:

- the client store (``query_client``): agent-c1 and agent-c2, confidential, with
  client_secret_basic and client_secret_post; agent-c3 with private_key_jwt only;
- private_key_jwt: authlib's own JWTBearerClientAssertion (rfc7523), registered with
  ``register_client_auth_method`` under the name ``private_key_jwt`` (its CLIENT_AUTH_METHOD),
  with the hooks it asks for: ``get_audiences`` (this server's issuer and token endpoint, as in
  authlib's docstring), ``resolve_client_public_key`` (C3's JWKS, fetched lazily from the fake
  IdP's /clients/c3/jwks and cached briefly) and ``validate_jti`` (an in-memory store);
- the IDJAGGrant hooks: ``get_audiences`` (this server's issuer), ``resolve_issuer_key`` (the
  JWKS of the trusted issuers, fetched lazily from the fake IdP and cached briefly; an untrusted
  issuer raises InvalidGrantError as in authlib's own documentation; optionally only the keys
  of some algorithms), ``authenticate_user`` (lookup by (iss, sub) among the configured users), ``check_jti`` (an in-memory store) and ``check_id_jag_permission``
  (the fixture has no per-user policy: always allowed);
- token generation (authlib's default Bearer generator) and storage (in memory);
- a resource API at /api/r1 and /api/r2: authlib's flask ResourceProtector with its
  BearerTokenValidator over the stored tokens (``authenticate_token`` is a lookup; the token
  model answers scope, expiry, revocation). GET needs the first scope (s.read), POST the
  second (s.write). authlib stores no
  resource for an ID-JAG token and BearerTokenValidator has no audience check, so R1 and R2
  accept the same tokens;
- a whoami at /api/whoami behind the same ResourceProtector (no scope needed): the token's
  user, client and scope as ``{"sub", "client_id", "scope"}``;
- the scopes this server supports (authlib's OAUTH2_SCOPES_SUPPORTED).

authlib does not ask for the resources the server governs, so the host has no resource list.

Configuration (arguments override the environment):
  --port / XAA_HOST_PORT            port to bind on 127.0.0.1 (0 = any free port)
  --port-file / XAA_HOST_PORT_FILE  write the bound port here once listening
  --idp-base / XAA_IDP_BASE         the fake IdP base URL, e.g. http://127.0.0.1:7400
  --max-seconds / XAA_HOST_MAX_SECONDS  exit after this many seconds (default 600)
  --issuer-path / XAA_HOST_ISSUER_PATH  a path for the issuer, e.g. /tenants/acme (default none)
  --scopes / XAA_HOST_SCOPES        the scopes the server defines, space-separated; the API's
                                    GET needs the first, its POST the second (default
                                    "s.read s.write")
  --user / XAA_HOST_USERS           a user: IDP:SUB=NAME, IDP being idp-a or idp-b (repeat the
                                    flag; the variable holds them comma-separated). Only these
                                    exist: an unknown (iss, sub) is refused. Default:
                                    idp-a:u1=alice, idp-b:u1=bob, idp-b:u3=carol
  --algs / XAA_HOST_ALGS            the ID-JAG signature algorithms trusted, space-separated
                                    (default: every key of the issuer's JWKS, joserfc's
                                    defaults); see resolve_issuer_key
  XAA_CLIENT_SECRET, XAA_CLIENT2_SECRET  the secrets of agent-c1 and agent-c2
The issuer is http://127.0.0.1:PORT{issuer-path}; the token endpoint is {issuer}/token; the
resource APIs are {issuer}/api/r1 and {issuer}/api/r2; the whoami is {issuer}/api/whoami; the
RFC 8414 metadata is at /.well-known/oauth-authorization-server{issuer-path} (path-aware, §3)
and nowhere else.
"""

import argparse
import json
import logging
import os
import secrets
import sys
import threading
import time
import urllib.parse
import urllib.request

from flask import Flask
from flask import jsonify
from joserfc.jwk import KeySet
from werkzeug.serving import make_server

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.integrations.flask_oauth2 import current_token
from authlib.oauth2.drafts import IDJAGGrant
from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749 import InvalidGrantError
from authlib.oauth2.rfc6749 import TokenMixin
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion

log = logging.getLogger("interop-host")

DEFAULT_SCOPES = "s.read s.write"
DEFAULT_USERS = "idp-a:u1=alice,idp-b:u1=bob,idp-b:u3=carol"
IDPS = ("idp-a", "idp-b")  # the suite's two trusted issuers, under the fake IdP's base URL
SECRET_METHODS = ["client_secret_basic", "client_secret_post"]
PRIVATE_KEY_JWT = "private_key_jwt"
AUTH_METHODS = SECRET_METHODS + [PRIVATE_KEY_JWT]
JWKS_TTL = 5.0  # seconds a fetched JWKS is reused (run.sh tells the suite: jwks_cache_ttl)
JWKS_MIN_REFETCH = 1.0  # an unknown kid refetches at most this often


class Client(ClientMixin):
    """A confidential client registered for the jwt-bearer grant only: with a secret
    (client_secret_basic / client_secret_post) or with a jwks_uri (private_key_jwt)."""

    def __init__(self, client_id, scopes, secret=None, jwks_uri=None):
        self.client_id = client_id
        self.scopes = scopes
        self.secret = secret
        self.jwks_uri = jwks_uri
        self.auth_methods = SECRET_METHODS if secret is not None else [PRIVATE_KEY_JWT]

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        return " ".join(s for s in (scope or "").split() if s in self.scopes)

    def check_redirect_uri(self, redirect_uri):
        return False

    def check_client_secret(self, client_secret):
        if self.secret is None:
            return False
        return secrets.compare_digest(self.secret, client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method in self.auth_methods

    def check_response_type(self, response_type):
        return False

    def check_grant_type(self, grant_type):
        return grant_type == IDJAGGrant.GRANT_TYPE


class User:
    def __init__(self, user_id):
        self.id = user_id

    def get_user_id(self):
        return self.id


class Token(TokenMixin):
    """An issued access token as the host stores it (for the resource API)."""

    def __init__(self, token, client_id, user_id):
        self.access_token = token["access_token"]
        self.scope = token.get("scope") or ""
        self.expires_in = int(token.get("expires_in") or 0)
        self.issued_at = time.time()
        self.client_id = client_id
        self.user_id = user_id

    def check_client(self, client):
        return client.get_client_id() == self.client_id

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def is_expired(self):
        return time.time() >= self.issued_at + self.expires_in

    def is_revoked(self):
        return False


class JwksCache:
    """JWKS fetched on first use (the IdP starts after the host), keyed by base URL: the trusted
    issuers ({issuer}/jwks) and C3 ({idp}/clients/c3/jwks)."""

    def __init__(self, trusted_issuers, algs=None):
        self.trusted = set(trusted_issuers)
        self.algs = algs  # None: every key; else only keys whose `alg` is one of these
        self.lock = threading.Lock()
        self.entries = {}  # issuer -> (fetched_at, jwks dict)

    def _fetch(self, issuer):
        with urllib.request.urlopen(f"{issuer}/jwks", timeout=5) as resp:
            data = json.load(resp)
        self.entries[issuer] = (time.monotonic(), data)
        return data

    def keys_for(self, issuer, kid):
        with self.lock:
            now = time.monotonic()
            entry = self.entries.get(issuer)
            if entry is None or now - entry[0] > JWKS_TTL:
                data = self._fetch(issuer)
            else:
                fetched_at, data = entry
                kids = {k.get("kid") for k in data.get("keys", [])}
                if kid is not None and kid not in kids and now - fetched_at > JWKS_MIN_REFETCH:
                    data = self._fetch(issuer)
        if self.algs is not None:
            data = {**data, "keys": [k for k in data.get("keys", []) if k.get("alg") in self.algs]}
        return KeySet.import_key_set(data)


def parse_users(spec):
    """`idp-a:u1=alice,idp-b:u3=carol` -> [("idp-a", "u1", "alice"), ...]."""
    out = []
    for item in (i.strip() for i in spec.split(",")):
        if not item:
            continue
        idp, sep, rest = item.partition(":")
        sub, sep2, name = rest.rpartition("=")
        if not sep or not sep2 or idp not in IDPS or not sub or not name:
            raise ValueError(f"user {item!r}: expected IDP:SUB=NAME with IDP one of {IDPS}")
        out.append((idp, sub, name))
    return out


def create_app(issuer, idp_base, client_secret, client2_secret, scopes=None, users=None,
               algs=None):
    """The Flask app. `issuer` may have a path; `scopes` are the defined scopes (the API's
    GET needs the first, POST the second); `users` [(idp, sub, name)] are the only users;
    `algs` restricts the trusted keys of the issuers to these algorithms (None: all)."""
    scopes = scopes or DEFAULT_SCOPES.split()
    users = users if users is not None else parse_users(DEFAULT_USERS)
    path = urllib.parse.urlsplit(issuer).path.rstrip("/")
    jwks = JwksCache([f"{idp_base}/{idp}" for idp in IDPS], algs)
    c3_base = f"{idp_base}/clients/c3"  # its jwks_uri is {c3_base}/jwks
    client_jwks = JwksCache([c3_base])
    clients = {
        "agent-c1": Client("agent-c1", scopes, client_secret),
        "agent-c2": Client("agent-c2", scopes, client2_secret),
        "agent-c3": Client("agent-c3", scopes, jwks_uri=f"{c3_base}/jwks"),
    }
    # The same sub under two issuers is two different users (ID-JAG §3.1: iss+sub is unique).
    # By default u3 exists only under the second issuer (JAG-SUB-03 sends it from the first).
    # Only the users listed exist: an unknown (iss, sub) is refused (no JIT provisioning).
    users = {(f"{idp_base}/{idp}", sub): User(name) for idp, sub, name in users}
    used_jtis = {}  # (iss, jti) -> exp
    jti_lock = threading.Lock()
    used_assertion_jtis = {}  # (sub, jti) -> exp
    tokens = {}  # access_token -> Token
    tokens_lock = threading.Lock()

    class HostIDJAGGrant(IDJAGGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

        def get_audiences(self):
            return [issuer]

        def resolve_issuer_key(self, iss, headers):
            # authlib hands this hook the unverified `iss` claim as it is, whatever its JSON
            # type (a list is unhashable): check the type before looking it up.
            if not isinstance(iss, str) or iss not in jwks.trusted:
                # The pattern of authlib's documentation and tests for an unknown issuer.
                raise InvalidGrantError(description="Untrusted issuer")
            # With --algs, only the keys published for those algorithms (their JWK `alg`) are
            # the issuer's trusted keys: authlib's jwt.decode(assertion, key) passes joserfc no
            # `algorithms`, so the key set is where an application restricts them.
            return jwks.keys_for(iss, headers.get("kid"))

        def authenticate_user(self, subject):
            iss = self.request.id_jag_claims["iss"]
            return users.get((iss, subject))

        def check_jti(self, claims, jti):
            now = time.time()
            key = (claims["iss"], jti)
            with jti_lock:
                for k in [k for k, exp in used_jtis.items() if exp < now - 120]:
                    del used_jtis[k]
                if key in used_jtis:
                    return False
                used_jtis[key] = claims["exp"]
                return True

        def check_id_jag_permission(self, client, user, scopes):
            return True

    class HostClientAssertion(JWTBearerClientAssertion):
        # authlib's default name is "client_assertion_jwt"; RFC 8414 / OIDC call it this.
        CLIENT_AUTH_METHOD = PRIVATE_KEY_JWT

        def get_audiences(self):
            # authlib's docstring example: the token endpoint and the issuer.
            return [f"{issuer}/token", issuer]

        def resolve_client_public_key(self, client):
            if client.jwks_uri is None:
                return KeySet([])
            return client_jwks.keys_for(client.jwks_uri[: -len("/jwks")], None)

        def validate_jti(self, claims, jti):
            # The pattern of authlib's docstring: (sub, jti) seen before -> False.
            now = time.time()
            key = (claims["sub"], jti)
            with jti_lock:
                for k in [k for k, exp in used_assertion_jtis.items() if exp < now - 120]:
                    del used_assertion_jtis[k]
                if key in used_assertion_jtis:
                    return False
                used_assertion_jtis[key] = claims.get("exp") or now + 3600
                return True

    class HostBearerTokenValidator(BearerTokenValidator):
        def authenticate_token(self, token_string):
            with tokens_lock:
                return tokens.get(token_string)

    def query_client(client_id):
        return clients.get(client_id)

    def save_token(token, request):
        t = Token(token, request.client.get_client_id(), request.user.id)
        with tokens_lock:
            tokens[t.access_token] = t

    app = Flask(__name__)
    app.config["OAUTH2_SCOPES_SUPPORTED"] = scopes
    server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
    server.register_client_auth_method(PRIVATE_KEY_JWT, HostClientAssertion())
    server.register_grant(HostIDJAGGrant)
    require_oauth = ResourceProtector()
    require_oauth.register_token_validator(HostBearerTokenValidator())

    # Two resources behind the same token store: authlib's BearerTokenValidator has no
    # audience check and the ID-JAG grant records no resource, so nothing tells them apart.
    def api_view(name, scope):
        @require_oauth(scope)
        def view():
            return jsonify({"resource": name, "user": current_token.user_id})

        return view

    read_scope, write_scope = scopes[0], scopes[1 if len(scopes) > 1 else 0]
    for name in ("r1", "r2"):
        app.add_url_rule(f"{path}/api/{name}", f"{name}_read", api_view(name, read_scope),
                         methods=["GET"])
        app.add_url_rule(f"{path}/api/{name}", f"{name}_write", api_view(name, write_scope),
                         methods=["POST"])

    # Whom a token represents (RS-11, JAG-SUB-03): any valid token, no scope needed.
    @app.get(f"{path}/api/whoami")
    @require_oauth()
    def whoami():
        return jsonify(
            {
                "sub": current_token.user_id,
                "client_id": current_token.client_id,
                "scope": current_token.scope,
            }
        )

    @app.post(f"{path}/token")
    def token():
        return server.create_token_response()

    # RFC 8414 §3: the well-known segment goes between the host and the issuer's path; with a
    # path there is no document at the root.
    @app.get(f"/.well-known/oauth-authorization-server{path}")
    def metadata():
        return jsonify(
            {
                "issuer": issuer,
                "token_endpoint": f"{issuer}/token",
                "grant_types_supported": [IDJAGGrant.GRANT_TYPE],
                "token_endpoint_auth_methods_supported": AUTH_METHODS,
                # joserfc's recommended algorithms, less the symmetric HS256 (C3's key is EC).
                "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
                "scopes_supported": scopes,
                "authorization_grant_profiles_supported": [
                    "urn:ietf:params:oauth:grant-profile:id-jag"
                ],
            }
        )

    return app


def main():
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=int(env("XAA_HOST_PORT", "0")))
    p.add_argument("--port-file", default=env("XAA_HOST_PORT_FILE"))
    p.add_argument("--idp-base", default=env("XAA_IDP_BASE"))
    p.add_argument("--max-seconds", type=float, default=float(env("XAA_HOST_MAX_SECONDS", "600")))
    p.add_argument("--issuer-path", default=env("XAA_HOST_ISSUER_PATH", ""))
    p.add_argument("--scopes", default=env("XAA_HOST_SCOPES", DEFAULT_SCOPES))
    p.add_argument("--user", action="append", default=None)
    p.add_argument("--algs", default=env("XAA_HOST_ALGS"))
    args = p.parse_args()
    if not args.idp_base:
        p.error("--idp-base (or XAA_IDP_BASE) is required")
    path = args.issuer_path.strip()
    if path and (not path.startswith("/") or path.endswith("/") or "?" in path or "#" in path):
        p.error("--issuer-path: a path like /tenants/acme (leading /, no trailing /)")
    scopes = args.scopes.split()
    if not scopes:
        p.error("--scopes: name at least one scope")
    try:
        users = parse_users(",".join(args.user) if args.user else env("XAA_HOST_USERS", DEFAULT_USERS))
    except ValueError as e:
        p.error(str(e))
    algs = set(args.algs.split()) if args.algs else None
    secret1, secret2 = env("XAA_CLIENT_SECRET"), env("XAA_CLIENT2_SECRET")
    if not secret1 or not secret2:
        p.error("XAA_CLIENT_SECRET and XAA_CLIENT2_SECRET must be set")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    # Bind first so that the issuer carries the real port; the app is attached right after.
    srv = make_server("127.0.0.1", args.port, None, threaded=True)
    port = srv.server_port
    issuer = f"http://127.0.0.1:{port}{path}"
    srv.app = create_app(issuer, args.idp_base.rstrip("/"), secret1, secret2, scopes, users, algs)

    # Stop by ourselves even if whoever started us never does.
    timer = threading.Timer(args.max_seconds, lambda: (log.warning("max lifetime reached"), os._exit(0)))
    timer.daemon = True
    timer.start()

    if args.port_file:
        tmp = f"{args.port_file}.tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)
    log.info("issuer %s, token endpoint %s/token, API %s/api/r1 and /api/r2, trusting %s/idp-a "
             "and /idp-b (algorithms %s), scopes %s, users %s", issuer, issuer, issuer,
             args.idp_base, sorted(algs) if algs else "all", scopes, users)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
