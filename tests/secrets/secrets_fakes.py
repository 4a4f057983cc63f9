"""Local HTTP servers answering as Vault KV v2, Google Secret Manager (REST) and Azure Key Vault.

Each implements only the read endpoint the backend uses, shaped as the vendor's API reference
says (paths, auth headers, status codes, JSON bodies), so the real SDK (hvac, the REST transport
of google-cloud-secret-manager, azure-keyvault-secrets over requests) talks to it over a socket.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import requests

Answer = tuple[int, dict[str, str], dict]
Handler = Callable[[str, str, dict[str, str]], Answer]


class FakeService:
    """An HTTP server on 127.0.0.1 whose answers come from ``handler(method, path, headers)``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        service = self

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                headers = {key.lower(): value for key, value in self.headers.items()}
                service.requests.append(("GET", self.path, headers))
                status, extra, body = service.handler("GET", self.path, headers)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> FakeService:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def vault_kv2(token: str, entries: dict[str, dict]) -> Handler:
    """Vault's ``GET /v1/:mount/data/:path`` (KV v2 read): 403 without the token, 404 unknown."""

    def handle(method: str, path: str, headers: dict[str, str]) -> Answer:
        if headers.get("x-vault-token") != token:
            return 403, {}, {"errors": ["permission denied"]}
        parts = urlsplit(path).path.split("/")
        if len(parts) < 5 or parts[1] != "v1" or parts[3] != "data":
            return 404, {}, {"errors": []}
        key = unquote(parts[2]) + "/" + unquote("/".join(parts[4:]))
        if key not in entries:
            return 404, {}, {"errors": []}
        metadata = {
            "created_time": "2026-12-06T06:00:00.000000000Z",
            "custom_metadata": None,
            "deletion_time": "",
            "destroyed": False,
            "version": 3,
        }
        body = {
            "request_id": "5a2a6c4e-0000-4000-8000-000000000000",
            "lease_id": "",
            "renewable": False,
            "lease_duration": 0,
            "data": {"data": entries[key], "metadata": metadata},
            "wrap_info": None,
            "warnings": None,
            "auth": None,
            "mount_type": "kv",
        }
        return 200, {}, body

    return handle


def gcp_secret_manager(project: str, secrets: dict[str, bytes], denied: set[str]) -> Handler:
    """``GET /v1/projects/*/secrets/*/versions/latest:access`` (AccessSecretVersion over REST)."""

    def handle(method: str, path: str, headers: dict[str, str]) -> Answer:
        name = unquote(urlsplit(path).path).removeprefix("/v1/").removesuffix(":access")
        parts = name.split("/")
        if len(parts) != 6 or parts[0] != "projects" or parts[2] != "secrets":
            return 404, {}, _gcp_error(404, "NOT_FOUND", "no such method")
        secret = parts[3]
        if secret in denied:  # IAM is checked before existence
            message = f"Permission 'secretmanager.versions.access' denied for resource '{name}'"
            return 403, {}, _gcp_error(403, "PERMISSION_DENIED", message)
        if parts[1] != project or secret not in secrets:
            message = f"Secret [{name.rsplit('/versions', 1)[0]}] not found or has no versions."
            return 404, {}, _gcp_error(404, "NOT_FOUND", message)
        payload = {"data": base64.b64encode(secrets[secret]).decode()}
        return (
            200,
            {},
            {"name": f"projects/123456789/secrets/{secret}/versions/4", "payload": payload},
        )

    return handle


def _gcp_error(code: int, status: str, message: str) -> dict:
    return {"error": {"code": code, "message": message, "status": status}}


AZURE_CHALLENGE = (
    'Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47",'
    ' resource="https://vault.azure.net"'
)


def azure_key_vault(token: str, secrets: dict[str, str], denied: set[str]) -> Handler:
    """``GET /secrets/{name}/?api-version=…`` of Key Vault, with its 401 bearer challenge."""

    def handle(method: str, path: str, headers: dict[str, str]) -> Answer:
        if headers.get("authorization") != f"Bearer {token}":
            error = {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer."}
            return 401, {"WWW-Authenticate": AZURE_CHALLENGE}, {"error": error}
        parts = [part for part in urlsplit(path).path.split("/") if part]
        name = unquote(parts[1]) if len(parts) >= 2 and parts[0] == "secrets" else ""
        if name in denied:
            error = {
                "code": "Forbidden",
                "message": "The user does not have secrets get permission.",
            }
            return 403, {}, {"error": error}
        if name not in secrets:
            message = f"A secret with (name/id) {name} was not found in this key vault."
            return 404, {}, {"error": {"code": "SecretNotFound", "message": message}}
        attributes = {"enabled": True, "created": 1_765_000_000, "updated": 1_765_000_000}
        body = {
            "value": secrets[name],
            "id": f"https://test.vault.azure.net/secrets/{name}/0123456789abcdef",
            "attributes": {**attributes, "recoveryLevel": "Recoverable+Purgeable"},
        }
        return 200, {}, body

    return handle


class RedirectAdapter(requests.adapters.HTTPAdapter):
    """Send every request to ``base`` (http) instead of its https host: TLS is all it skips."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        request.url = self.base + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().send(request, **kwargs)
