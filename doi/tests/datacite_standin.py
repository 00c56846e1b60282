"""A local stand-in for DataCite's REST API, on loopback, for the tests: JSON:API `POST /dois`,
`PUT /dois/<doi>` and `GET /dois/<doi>` with HTTP Basic auth; DOIs move draft -> findable
(event publish), registered (register) and findable -> registered (hide), as DataCite's do; a
body that fails the kernel 4.5 JSON schema the `datacite` package ships, or a DOI outside the
account's prefix, gets a 422 in DataCite's error shape ({"errors": [{"source", "title"}]}).
`outage = 503` answers every request with 503 (an outage); `stop()` takes it off the network."""

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from datacite import schema45

TRANSITIONS = {  # (current state, event) -> new state
    ("", None): "draft",
    ("", "publish"): "findable",
    ("", "register"): "registered",
    ("draft", None): "draft",
    ("draft", "publish"): "findable",
    ("draft", "register"): "registered",
    ("findable", None): "findable",
    ("findable", "publish"): "findable",
    ("findable", "hide"): "registered",
    ("registered", "publish"): "findable",
    ("registered", None): "registered",
    ("registered", "hide"): "registered",
}


class DataCiteStandIn:
    def __init__(self, *, user="ESRF.TEST", password="secret", prefix="10.99999"):
        self.user, self.password, self.prefix = user, password, prefix
        self.dois: dict[str, dict] = {}
        self.requests: list[tuple[str, str, dict | None]] = []
        self.outage: int | None = None
        self.lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, body: dict | None = None):
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/vnd.api+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                expected = base64.b64encode(f"{standin.user}:{standin.password}".encode()).decode()
                return self.headers.get("Authorization") == f"Basic {expected}"

            def _handle(self, method: str):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null") if length else None
                with standin.lock:
                    standin.requests.append((method, self.path, body))
                    if standin.outage:
                        return self._answer(
                            standin.outage,
                            {"errors": [{"status": str(standin.outage), "title": "Service unavailable"}]},
                        )
                    if not self._authorised():
                        return self._answer(401, {"errors": [{"status": "401", "title": "Bad credentials."}]})
                    return self._answer(*standin.handle(method, self.path, body))

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_PUT(self):
                self._handle("PUT")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "DataCiteStandIn":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def _error(source: str, title: str) -> tuple[int, dict]:
        return 422, {"errors": [{"source": source, "title": title}]}

    def handle(self, method: str, path: str, body) -> tuple[int, dict]:
        parts = path.strip("/").split("/", 1)
        if parts[0] != "dois":
            return 404, {"errors": [{"status": "404", "title": "The resource you are looking for doesn't exist."}]}
        if method == "GET":
            doi = parts[1].upper() if len(parts) > 1 else ""
            if doi not in self.dois:
                return 404, {"errors": [{"status": "404", "title": "The resource you are looking for doesn't exist."}]}
            return 200, {"data": {"id": doi.lower(), "type": "dois", "attributes": self.dois[doi]}}
        data = (body or {}).get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or data.get("type") != "dois" or not isinstance(data.get("attributes"), dict):
            return self._error("data", "A JSON:API body {data: {type: dois, attributes}} is required.")
        attributes = dict(data["attributes"])
        doi = (parts[1] if method == "PUT" and len(parts) > 1 else attributes.get("doi", "")).upper()
        if not doi.startswith(self.prefix + "/"):
            return self._error("doi", f"DOI {doi} is not in prefix {self.prefix}.")
        current = self.dois.get(doi, {})
        if method == "POST" and current:
            return self._error("doi", "This DOI has already been taken")
        if method == "PUT" and not current:
            return 404, {"errors": [{"status": "404", "title": "The resource you are looking for doesn't exist."}]}
        event = attributes.pop("event", None)
        state = TRANSITIONS.get((current.get("state", ""), event))
        if state is None:
            return self._error("event", f"Cannot {event} a {current.get('state', 'new')} DOI.")
        merged = {**current, **attributes, "doi": doi}
        merged.pop("state", None)
        if state in ("findable", "registered") or len(attributes) > 2:
            errors = sorted(schema45.validator.iter_errors(merged), key=lambda e: list(map(str, e.path)))
            if errors:
                return self._error("/".join(map(str, errors[0].absolute_path)) or "metadata", errors[0].message)
            if state != "draft" and not merged.get("url"):
                return self._error("url", "can't be blank")
        self.dois[doi] = merged | {"state": state}
        return (201 if method == "POST" else 200), {
            "data": {"id": doi.lower(), "type": "dois", "attributes": self.dois[doi]}
        }
