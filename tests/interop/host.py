"""A thin Flask host around authlib's ID-JAG grant, for running xaa-conform against it.

The point is to measure authlib, so this file supplies only what authlib asks an application to
supply, and validates nothing itself:

- the client store (``query_client``): agent-c1 and agent-c2, confidential, with
  client_secret_basic and client_secret_post;
- the IDJAGGrant hooks: ``get_audiences`` (this server's issuer), ``resolve_issuer_key`` (the
  JWKS of the trusted issuers, fetched lazily from the fake IdP and cached briefly; an untrusted
  issuer raises InvalidGrantError as in authlib's own documentation), ``authenticate_user``
  (lookup by (iss, sub)), ``check_jti`` (an in-memory store) and ``check_id_jag_permission``
  (the fixture has no per-user policy: always allowed);
- token generation (authlib's default Bearer generator) and storage (in memory);
- the scopes this server supports (authlib's OAUTH2_SCOPES_SUPPORTED).

authlib does not ask for the resources the server governs, so the host has no resource list.

Configuration (arguments override the environment):
  --port / XAA_HOST_PORT            port to bind on 127.0.0.1 (0 = any free port)
  --port-file / XAA_HOST_PORT_FILE  write the bound port here once listening
  --idp-base / XAA_IDP_BASE         the fake IdP base URL, e.g. http://127.0.0.1:7400
  --max-seconds / XAA_HOST_MAX_SECONDS  exit after this many seconds (default 600)
  XAA_CLIENT_SECRET, XAA_CLIENT2_SECRET  the secrets of agent-c1 and agent-c2
The issuer is http://127.0.0.1:PORT; the token endpoint is {issuer}/token.
"""

import argparse
import json
import logging
import os
import secrets
import sys
import threading
import time
import urllib.request

from flask import Flask
from flask import jsonify
from joserfc.jwk import KeySet
from werkzeug.serving import make_server

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.drafts import IDJAGGrant
from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749 import InvalidGrantError

log = logging.getLogger("interop-host")

SCOPES = ["s.read", "s.write"]
AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
JWKS_TTL = 60.0  # seconds a fetched JWKS is reused
JWKS_MIN_REFETCH = 1.0  # an unknown kid refetches at most this often


class Client(ClientMixin):
    """A confidential client registered for the jwt-bearer grant only."""

    def __init__(self, client_id, secret):
        self.client_id = client_id
        self.secret = secret

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri):
        return False

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(self.secret, client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method in AUTH_METHODS

    def check_response_type(self, response_type):
        return False

    def check_grant_type(self, grant_type):
        return grant_type == IDJAGGrant.GRANT_TYPE


class User:
    def __init__(self, user_id):
        self.id = user_id

    def get_user_id(self):
        return self.id


class JwksCache:
    """The trusted issuers' JWKS, fetched on first use (the IdP starts after the host)."""

    def __init__(self, trusted_issuers):
        self.trusted = set(trusted_issuers)
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
        return KeySet.import_key_set(data)


def create_app(issuer, idp_base, client_secret, client2_secret):
    idp_a = f"{idp_base}/idp-a"
    idp_b = f"{idp_base}/idp-b"
    jwks = JwksCache([idp_a, idp_b])
    clients = {
        "agent-c1": Client("agent-c1", client_secret),
        "agent-c2": Client("agent-c2", client2_secret),
    }
    # The same sub under two issuers is two different users (ID-JAG §3.1: iss+sub is unique).
    users = {(idp_a, "u1"): User("alice"), (idp_b, "u1"): User("bob")}
    used_jtis = {}  # (iss, jti) -> exp
    jti_lock = threading.Lock()
    tokens = []

    class HostIDJAGGrant(IDJAGGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

        def get_audiences(self):
            return [issuer]

        def resolve_issuer_key(self, iss, headers):
            if iss not in jwks.trusted:
                # The pattern of authlib's documentation and tests for an unknown issuer.
                raise InvalidGrantError(description="Untrusted issuer")
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

    def query_client(client_id):
        return clients.get(client_id)

    def save_token(token, request):
        tokens.append((token.get("access_token"), request.client.get_client_id(), request.user.id))

    app = Flask(__name__)
    app.config["OAUTH2_SCOPES_SUPPORTED"] = SCOPES
    server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
    server.register_grant(HostIDJAGGrant)

    @app.post("/token")
    def token():
        return server.create_token_response()

    @app.get("/.well-known/oauth-authorization-server")
    def metadata():
        return jsonify(
            {
                "issuer": issuer,
                "token_endpoint": f"{issuer}/token",
                "grant_types_supported": [IDJAGGrant.GRANT_TYPE],
                "token_endpoint_auth_methods_supported": AUTH_METHODS,
                "scopes_supported": SCOPES,
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
    args = p.parse_args()
    if not args.idp_base:
        p.error("--idp-base (or XAA_IDP_BASE) is required")
    secret1, secret2 = env("XAA_CLIENT_SECRET"), env("XAA_CLIENT2_SECRET")
    if not secret1 or not secret2:
        p.error("XAA_CLIENT_SECRET and XAA_CLIENT2_SECRET must be set")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    # Bind first so that the issuer carries the real port; the app is attached right after.
    srv = make_server("127.0.0.1", args.port, None, threaded=True)
    port = srv.server_port
    issuer = f"http://127.0.0.1:{port}"
    srv.app = create_app(issuer, args.idp_base.rstrip("/"), secret1, secret2)

    # Stop by ourselves even if whoever started us never does.
    timer = threading.Timer(args.max_seconds, lambda: (log.warning("max lifetime reached"), os._exit(0)))
    timer.daemon = True
    timer.start()

    if args.port_file:
        tmp = f"{args.port_file}.tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)
    log.info("issuer %s, token endpoint %s/token, trusting %s/idp-a and /idp-b", issuer, issuer, args.idp_base)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
