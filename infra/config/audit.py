"""``llm-vault:audit``: the file audit device (declared by the program, or by the server's config)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import field_validator

from infra.config.schema import ConfigError, MountPath, Schema, Text


@dataclass(frozen=True)
class AuditSettings:
    mode: str  # "api": we declare a file device; "declared": the server config declares it
    path: str  # device path (name) in the root namespace
    file_path: str
    hmac_accessor: bool


class AuditSchema(Schema):
    # No logRaw, no type: a device the program creates is a file device with HMAC'd values.
    mode: Literal["api", "declared"] | None = None  # default: "declared" on a protected stack, else "api"
    path: MountPath = "file"
    file_path: Text = "/vault/audit/audit.log"
    file_dir: Text = "/vault/audit"
    hmac_accessor: bool = True

    @field_validator("file_path")
    @classmethod
    def _on_the_server(cls, file_path: str) -> str:
        if not file_path.startswith("/") and file_path != "stdout":
            raise ValueError(f"must be an absolute path on the server or 'stdout', got {file_path!r}")
        return file_path

    def to_record(self, protect: bool) -> AuditSettings:
        # Protected stacks leave the device to the server's config file unless they choose API mode
        # (which needs unsafe_allow_api_audit_creation on OpenBao, the switch added for CVE-2025-54997).
        mode = self.mode or ("declared" if protect else "api")
        file_dir = self.file_dir.rstrip("/") or "/"
        parts = self.file_path.split("/")
        outside = ".." in parts or not self.file_path.startswith(f"{file_dir}/")
        if mode == "api" and self.file_path != "stdout" and outside:
            raise ConfigError(
                "audit.filePath", f"{self.file_path!r} is outside the audit directory {file_dir!r} (fileDir)"
            )
        return AuditSettings(mode=mode, path=self.path, file_path=self.file_path, hmac_accessor=self.hmac_accessor)
