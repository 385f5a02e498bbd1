"""Start and stop Azurite, Microsoft's Azure Storage emulator, for tests and benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from tests.support.app_server import free_port
from tests.support.processes import stop_process_group

__all__ = ["ACCOUNT_KEY", "Azurite", "azurite_binary"]

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_NAME = "devstoreaccount1"
# Azurite's well-known development key (public, documented by Microsoft; not a secret).
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def azurite_binary() -> Path:
    """The azurite-blob launcher (or $AZURITE_BLOB_BIN), installed from npm if missing."""
    configured = os.environ.get("AZURITE_BLOB_BIN")
    if configured:
        return Path(configured)
    path = ROOT / ".tools/azurite/node_modules/.bin/azurite-blob"
    if not path.exists():
        # The same recipe `make test` uses, so a benchmark run after `make run` works too.
        subprocess.run(["make", "-s", "-C", str(ROOT), "install-azurite"], check=True)
    return path


class Azurite:
    """One Azurite blob service on a free port, in its own process group."""

    def __init__(self, location: Path, *, oauth: bool = False) -> None:
        """`oauth` serves HTTPS (a self-signed certificate) and accepts bearer tokens, the way
        an app without an account key talks to real Azure."""
        self.location = location
        self.port = free_port()
        self.oauth = oauth
        self._process: subprocess.Popen | None = None

    @property
    def blob_endpoint(self) -> str:
        """Base URL of the account."""
        scheme = "https" if self.oauth else "http"
        return f"{scheme}://127.0.0.1:{self.port}/{ACCOUNT_NAME}"

    @property
    def certificate(self) -> Path:
        """The self-signed certificate an `oauth` emulator serves (trust it as a CA)."""
        return self.location / "cert.pem"

    def _tls_arguments(self) -> list[str]:
        if not self.oauth:
            return []
        cert, key = self.certificate, self.location / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True, capture_output=True,
        )  # fmt: skip
        return ["--oauth", "basic", "--cert", str(cert), "--key", str(key)]

    @property
    def connection_string(self) -> str:
        """Account-key connection string, as AZURE_STORAGE_CONNECTION_STRING expects."""
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob_endpoint};"
        )

    def start(self, timeout_s: float = 30) -> Azurite:
        """Launch and wait until the port accepts connections."""
        self.location.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [
                str(azurite_binary()),
                "--blobHost", "127.0.0.1",
                "--blobPort", str(self.port),
                "--location", str(self.location),
                "--silent",
                "--disableTelemetry",
                # azure-storage-blob 12.31 may speak a newer API version than Azurite knows.
                "--skipApiVersionCheck",
                *self._tls_arguments(),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                msg = f"Azurite exited with {self._process.returncode}"
                raise RuntimeError(msg)
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        msg = f"Azurite did not open port {self.port} within {timeout_s} s"
        raise RuntimeError(msg)

    def stop(self) -> None:
        """SIGTERM the group (Azurite saves its state on TERM), then wait."""
        process, self._process = self._process, None
        if process is not None:
            stop_process_group(process, timeout_s=15)

    def freeze(self) -> None:
        """Stop the process without closing its socket: requests hang, as on a dead network."""
        assert self._process is not None
        os.killpg(self._process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """Resume after `freeze`."""
        assert self._process is not None
        os.killpg(self._process.pid, signal.SIGCONT)

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
