"""Local stand-ins for Google's and Microsoft's OAuth 2.0 / OpenID Connect endpoints: a real HTTP
server on loopback answering with the documented shapes, so allauth's real views, its token
exchange and its profile requests run end to end.

- Google: `GET /google/auth` (authorization: redirects back with `code` and `state`),
  `POST /google/token` (form: code, client_id, client_secret, redirect_uri, grant_type; JSON
  `access_token`, `expires_in`, `token_type`, `scope`, `id_token`), `GET /google/userinfo`.
  The id_token carries `iss=https://accounts.google.com`, `aud=<client id>`, `sub`, `email`,
  `email_verified`, `name`, `picture`, `exp`, `iat`, `jti`.
- Microsoft identity platform: `GET /ms/<tenant>/oauth2/v2.0/authorize`,
  `POST /ms/<tenant>/oauth2/v2.0/token`, Graph `GET /graph/v1.0/me` (`id`, `displayName`,
  `givenName`, `surname`, `mail`, `userPrincipalName`).
Codes are single use and bound to the client and redirect URI; `users[provider]` is who
"logs in" next; every request is recorded.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt

CLIENTS = {
    "google": ("google-client-id.apps.example", "google-secret-0123456789abcdef0123456789"),
    "microsoft": ("ms-client-id", "ms-secret-0123456789abcdef0123456789abcdef"),
}


class FakeOAuth:
    def __init__(self) -> None:
        self.users = {
            "google": {
                "sub": "108000000000000000001",
                "email": "ada@gmail.example",
                "name": "Ada Lovelace",
                "given_name": "Ada",
                "family_name": "Lovelace",
                "picture": "https://lh3.googleusercontent.example/a/ada",
            },
            "microsoft": {
                "id": "6f1b0c2e-ms-user-1",
                "displayName": "Grace Hopper",
                "mail": "grace@outlook.example",
                "givenName": "Grace",
                "surname": "Hopper",
                "userPrincipalName": "grace@outlook.example",
            },
        }
        self.codes: dict[str, dict] = {}
        self.tokens: dict[str, tuple[str, dict]] = {}
        self.requests: list[tuple[str, str]] = []
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def endpoints(self) -> dict:
        return {
            "google": {
                "authorize_url": f"{self.url}/google/auth",
                "access_token_url": f"{self.url}/google/token",
                "identity_url": f"{self.url}/google/userinfo",
            }
        }

    def microsoft_settings(self) -> dict:
        return {"login_url": f"{self.url}/ms", "graph_url": f"{self.url}/graph", "tenant": "consumers"}

    # --- the endpoints -----------------------------------------------------------------------

    def authorize(self, provider: str, query: dict) -> tuple[int, dict, bytes]:
        client_id = query.get("client_id", [""])[0]
        redirect_uri = query.get("redirect_uri", [""])[0]
        if client_id != CLIENTS[provider][0] or not redirect_uri:
            return 400, {}, b"invalid_client"
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "provider": provider,
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "user": dict(self.users[provider]),
        }
        params = {"code": code}
        if "state" in query:
            params["state"] = query["state"][0]
        return 302, {"Location": f"{redirect_uri}?{urlencode(params)}"}, b""

    def token(self, provider: str, form: dict, headers) -> tuple[int, dict]:
        code = self.codes.pop(form.get("code", [""])[0], None)
        client_id = form.get("client_id", [""])[0]
        secret = form.get("client_secret", [""])[0]
        if code is None or code["provider"] != provider:
            return 400, {"error": "invalid_grant", "error_description": "code unknown or used"}
        if (client_id, secret) != CLIENTS[provider] or form.get("redirect_uri", [""])[0] != code["redirect_uri"]:
            return 401, {"error": "invalid_client"}
        access = secrets.token_urlsafe(24)
        self.tokens[access] = (provider, code["user"])
        answer = {"access_token": access, "expires_in": 3599, "token_type": "Bearer"}
        if provider == "google":
            now = int(time.time())
            claims = {
                "iss": "https://accounts.google.com",
                "aud": client_id,
                "iat": now,
                "exp": now + 3600,
                "jti": secrets.token_hex(8),
                "email_verified": True,
                **code["user"],
            }
            answer["id_token"] = jwt.encode(claims, CLIENTS[provider][1], algorithm="HS256")
            answer["scope"] = "openid https://www.googleapis.com/auth/userinfo.profile"
        else:
            answer["scope"] = "User.Read"
        return 200, answer

    def profile(self, provider: str, headers) -> tuple[int, dict]:
        scheme, _, access = (headers.get("Authorization") or "").partition(" ")
        found = self.tokens.get(access) if scheme == "Bearer" else None
        if found is None or found[0] != provider:
            return 401, {"error": {"code": "InvalidAuthenticationToken", "message": "Access token is empty."}}
        user = found[1]
        if provider == "google":
            return 200, {
                "id": user["sub"],
                "email": user["email"],
                "verified_email": True,
                "name": user["name"],
                "picture": user["picture"],
            }
        return 200, user

    def start(self) -> FakeOAuth:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _reply(self, status, headers=None, body=b"", content_type="application/json"):
                if isinstance(body, dict):
                    body = json.dumps(body).encode()
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                parts = urlsplit(self.path)
                fake.requests.append(("GET", parts.path))
                query = parse_qs(parts.query)
                if parts.path == "/google/auth":
                    return self._reply(*fake.authorize("google", query), content_type="text/plain")
                if parts.path.startswith("/ms/") and parts.path.endswith("/oauth2/v2.0/authorize"):
                    return self._reply(*fake.authorize("microsoft", query), content_type="text/plain")
                if parts.path == "/google/userinfo":
                    status, body = fake.profile("google", self.headers)
                    return self._reply(status, body=body)
                if parts.path == "/graph/v1.0/me":
                    status, body = fake.profile("microsoft", self.headers)
                    return self._reply(status, body=body)
                return self._reply(404, body={"error": "not_found"})

            def do_POST(self):
                parts = urlsplit(self.path)
                fake.requests.append(("POST", parts.path))
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode()) if length else {}
                if parts.path == "/google/token":
                    status, body = fake.token("google", form, self.headers)
                    return self._reply(status, body=body)
                if parts.path.startswith("/ms/") and parts.path.endswith("/oauth2/v2.0/token"):
                    status, body = fake.token("microsoft", form, self.headers)
                    return self._reply(status, body=body)
                return self._reply(404, body={"error": "not_found"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
