"""Credentials: precedence of systemd's $CREDENTIALS_DIRECTORY, file format, errors, redaction.

The secret must never appear in a repr, a str, an exception message or a log event.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from v7d.credentials import Credentials, credential_file, load_credentials
from v7d.errors import ConfigError, CredentialsError

KEY = "AbCdEfGh0123456789keykeykey"
SECRET = "S3cr3tS3cr3tS3cr3tXYZ"


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    """Write a credentials file with the given mode and return its path."""
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture
def good(tmp_path: Path) -> Path:
    """A valid credentials file, readable by its owner only."""
    return write(tmp_path / "credentials", f"api_key={KEY}\nsecret={SECRET}\n")


class TestFormat:
    """The name=value file format."""

    def test_plain(self, good: Path) -> None:
        """Two lines give both values."""
        creds = load_credentials("default", good, {})
        assert (creds.api_key, creds.secret) == (KEY, SECRET)

    def test_comments_blank_lines_and_whitespace(self, tmp_path: Path) -> None:
        """Comments, blank lines and surrounding whitespace are ignored."""
        f = write(
            tmp_path / "c",
            f"# my key\n\n   api_key =  {KEY}  \n\t# note\nsecret= {SECRET}\r\n\n",
        )
        creds = load_credentials("default", f, {})
        assert (creds.api_key, creds.secret) == (KEY, SECRET)

    def test_value_may_contain_equals(self, tmp_path: Path) -> None:
        """Only the first '=' separates name and value (base64 secrets end in '=')."""
        f = write(tmp_path / "c", f"api_key={KEY}\nsecret=abc==\n")
        assert load_credentials("default", f, {}).secret == "abc=="

    def test_credentials_error_is_a_config_error(self) -> None:
        """Callers that refuse to start on ConfigError also catch credential problems."""
        assert issubclass(CredentialsError, ConfigError)


class TestErrors:
    """Each problem gives a CredentialsError naming the file and the problem, not a value."""

    @pytest.mark.parametrize(
        ("text", "problem"),
        [
            (f"api_key={KEY}\n", "missing secret"),
            (f"secret={SECRET}\n", "missing api_key"),
            ("# nothing\n", "missing api_key and secret"),
            (f"api_key={KEY}\nsecret={SECRET}\nsecret={SECRET}\n", "line 3: secret is given twice"),
            (
                f"api_key={KEY}\nsecret={SECRET}\npassphrase=x\n",
                "line 3: unknown name 'passphrase'",
            ),
            (f"api_key={KEY}\n{SECRET}\n", "line 2: expected name=value"),
            (f"api_key={KEY}\nsecret=\n", "line 2: secret is empty"),
            (f"api_key={KEY}\n{SECRET}=x\n", "line 2: unknown name; expected only"),
        ],
    )
    def test_malformed(self, tmp_path: Path, text: str, problem: str) -> None:
        """Malformed files are refused with the file, the line and the problem."""
        f = write(tmp_path / "creds", text)
        with pytest.raises(CredentialsError) as info:
            load_credentials("default", f, {})
        message = str(info.value)
        assert message.startswith(f"{f}: ")
        assert problem in message
        assert SECRET not in message and KEY not in message

    def test_missing(self, tmp_path: Path) -> None:
        """A missing file is named."""
        with pytest.raises(CredentialsError, match="nope: credentials file not found"):
            load_credentials("default", tmp_path / "nope", {})

    def test_directory(self, tmp_path: Path) -> None:
        """A directory is refused."""
        with pytest.raises(CredentialsError, match="is a directory"):
            load_credentials("default", tmp_path, {})

    def test_not_regular(self) -> None:
        """A device or pipe is refused instead of read."""
        with pytest.raises(CredentialsError, match="/dev/null: not a regular file"):
            load_credentials("default", "/dev/null", {})

    def test_not_utf8(self, tmp_path: Path) -> None:
        """Binary junk is refused without echoing it."""
        f = tmp_path / "bin"
        f.write_bytes(b"api_key=\xff\xfe\n")
        f.chmod(0o600)
        with pytest.raises(CredentialsError, match="bin: not UTF-8 text"):
            load_credentials("default", f, {})

    def test_unreadable(self) -> None:
        """A file the daemon's user cannot read is refused with 'permission denied'."""
        # Permission bits do not stop root, so when running as root the check runs in a
        # child process that drops to nobody; the file sits in a directory it may search.
        with tempfile.TemporaryDirectory() as tmp:
            os.chmod(tmp, 0o711)
            f = write(Path(tmp) / "creds", f"api_key={KEY}\nsecret={SECRET}\n", 0o600)
            if os.geteuid() != 0:
                f.chmod(0)
                with pytest.raises(CredentialsError, match="creds: permission denied"):
                    load_credentials("default", f, {})
                return
            read, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: drop to nobody, try, report, never return to pytest
                message = "loaded"
                try:
                    os.setgid(65534)
                    os.setuid(65534)
                    load_credentials("default", f, {})
                except CredentialsError as exc:
                    message = str(exc)
                finally:
                    os.write(write_end, message.encode())
                    os._exit(0)
            os.close(write_end)
            with os.fdopen(read) as pipe:
                out = pipe.read()
            os.waitpid(pid, 0)
            assert out.strip() == f"{f}: permission denied (the v7d user must be able to read it)"


class TestPrecedence:
    """systemd's $CREDENTIALS_DIRECTORY wins over the configured path."""

    @pytest.fixture
    def credsdir(self, tmp_path: Path) -> Path:
        """An empty directory standing for $CREDENTIALS_DIRECTORY."""
        d = tmp_path / "credsdir"
        d.mkdir()
        return d

    def test_single_account_uses_v7d(self, good: Path, credsdir: Path) -> None:
        """The single account reads $CREDENTIALS_DIRECTORY/v7d when it exists."""
        write(credsdir / "v7d", "api_key=fromsystemd\nsecret=s\n")
        env = {"CREDENTIALS_DIRECTORY": str(credsdir)}
        assert load_credentials("default", good, env).api_key == "fromsystemd"
        assert credential_file("default", good, env) == credsdir / "v7d"

    def test_named_account_uses_v7d_dash_name(self, good: Path, credsdir: Path) -> None:
        """Account 'main' of several reads $CREDENTIALS_DIRECTORY/v7d-main, not v7d."""
        write(credsdir / "v7d", "api_key=wrong\nsecret=s\n")
        write(credsdir / "v7d-main", "api_key=mainkey\nsecret=s\n")
        env = {"CREDENTIALS_DIRECTORY": str(credsdir)}
        assert load_credentials("main", good, env, single=False).api_key == "mainkey"

    def test_default_named_account_in_multi_config(self, good: Path, credsdir: Path) -> None:
        """With [[accounts]], even an account named default uses v7d-default."""
        write(credsdir / "v7d", "api_key=wrong\nsecret=s\n")
        write(credsdir / "v7d-default", "api_key=right\nsecret=s\n")
        env = {"CREDENTIALS_DIRECTORY": str(credsdir)}
        assert load_credentials("default", good, env, single=False).api_key == "right"

    def test_falls_back_to_configured_path(self, good: Path, credsdir: Path) -> None:
        """Without the systemd credential the configured file is read."""
        env = {"CREDENTIALS_DIRECTORY": str(credsdir)}
        assert load_credentials("default", good, env).api_key == KEY

    def test_no_credentials_directory(self, good: Path) -> None:
        """Without $CREDENTIALS_DIRECTORY the configured file is read."""
        assert credential_file("default", good, {}) == good

    def test_systemd_file_errors_name_it(self, good: Path, credsdir: Path) -> None:
        """A broken systemd credential is reported under its own path, not silently skipped."""
        write(credsdir / "v7d", "api_key=x\n")
        with pytest.raises(CredentialsError, match="credsdir/v7d: missing secret"):
            load_credentials("default", good, {"CREDENTIALS_DIRECTORY": str(credsdir)})


class TestRedaction:
    """The secret stays hidden everywhere."""

    def test_repr_and_str(self) -> None:
        """repr and str show 4 characters of the key and none of the secret."""
        creds = Credentials(KEY, SECRET)
        for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
            assert SECRET not in text
            assert KEY not in text
            assert "AbCd…" in text

    def test_short_key(self) -> None:
        """A key of 4 characters or fewer is not shown at all."""
        assert "abcd" not in repr(Credentials("abcd", SECRET))

    def test_world_readable_warns_but_loads(self, tmp_path: Path) -> None:
        """A world-readable file loads and logs credentials_world_readable with its path."""
        f = write(tmp_path / "open", f"api_key={KEY}\nsecret={SECRET}\n", 0o644)
        with capture_logs() as logs:
            creds = load_credentials("default", f, {})
        assert creds.secret == SECRET
        warnings = [e for e in logs if e["event"] == "credentials_world_readable"]
        assert warnings == [
            {
                "event": "credentials_world_readable",
                "path": str(f),
                "mode": "0o644",
                "log_level": "warning",
            }
        ]
        assert SECRET not in repr(logs) and KEY not in repr(logs)

    def test_private_file_does_not_warn(self, good: Path) -> None:
        """A 0600 file loads without a warning."""
        with capture_logs() as logs:
            load_credentials("default", good, {})
        assert logs == []

    def test_exception_chain_holds_no_secret(self, tmp_path: Path) -> None:
        """Errors are raised without a chained cause that could carry file contents."""
        f = write(tmp_path / "c", f"secret={SECRET}\nsecret={SECRET}\n")
        with pytest.raises(CredentialsError) as info:
            load_credentials("default", f, {})
        assert info.value.__cause__ is None
        assert SECRET not in str(info.value) and SECRET not in repr(info.value.args)
