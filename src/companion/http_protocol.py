"""uvicorn's HTTP protocol, answering requests it cannot parse in the one JSON error body.

uvicorn refuses a request line or header set its parser cannot take (past about 64 KiB, or malformed)
with a plain-text 400 before the app sees it; this protocol sends the same refusal as our error body.
Smaller over-long URLs and headers reach the app, which answers 414 and 431 (`http_limits`).
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

_BODY = json.dumps(
    {
        "error": {
            "code": "validation_error",
            "message": "The request could not be read as HTTP: its request line or headers are malformed "
            "or too large.",
            "details": {},
        }
    }
).encode()


class JsonErrorHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol whose unparsable-request answer is JSON in the standard error body."""

    def send_400_response(self, msg: str) -> None:
        """Answer 400 with the error body and close the connection."""
        content = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: " + str(len(_BODY)).encode("ascii") + b"\r\n",
                b"x-content-type-options: nosniff\r\n",
                b"connection: close\r\n",
                b"\r\n",
                _BODY,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()
