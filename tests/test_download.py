"""``tui-recs download``: against a local HTTP server on 127.0.0.1 (no network): a whole
download, a resume after a cut (HTTP Range), a bad checksum and unsafe archives refused with
nothing half-written."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import socket
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tui_recs import cli
from tui_recs.data import download as downloads
from tui_recs.data import load

USER_ARTISTS = "userID\tartistID\tweight\r\n" + "\r\n".join(
    f"{user}\t{artist}\t{10 * user + artist}" for user in range(2, 8) for artist in range(1, 6)
    if (user + artist) % 3)
ARTISTS = "id\tname\turl\tpictureURL\r\n" + "\r\n".join(
    f"{artist}\tBand {artist}\thttp://www.last.fm/music/Band+{artist}\t" for artist in range(1, 6))


def zipped(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


HETREC = zipped({"user_artists.dat": USER_ARTISTS, "artists.dat": ARTISTS, "readme.txt": "hi"})


class Server:
    """Serves ``files`` (path -> bytes) with HTTP Range support; ``cut_after`` makes the next
    answer stop after that many bytes of its body (the connection closed under the client)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.cut_after: int | None = None
        self.ranges: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                asked = self.headers.get("Range")
                server.ranges.append(asked)
                start = int(asked.split("=")[1].rstrip("-")) if asked else 0
                if start >= len(body) and asked:
                    self.send_response(416)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206 if asked else 200)
                if asked:
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                cut, server.cut_after = server.cut_after, None
                self.wfile.write(body[start:] if cut is None else body[start:start + cut])
                if cut is not None:
                    self.close_connection = True

            def log_message(self, *args) -> None:  # keep the test output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    running = Server()
    yield running
    running.close()


def serve(server: Server, monkeypatch, body: bytes, name: str = "hetrec-2k",
          sha256: str | None = None) -> downloads.Archive:
    """Point ``tui-recs download NAME`` at ``body`` on the local server."""
    official = downloads.ARCHIVES[name]
    path = "/files/" + official.filename
    server.files[path] = body
    archive = dataclasses.replace(official, url=server.url(path),
                                  sha256=sha256 or hashlib.sha256(body).hexdigest())
    monkeypatch.setitem(downloads.ARCHIVES, name, archive)
    return archive


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(["download", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_whole_download_prints_the_data_path(server, monkeypatch, capsys, tmp_path):
    serve(server, monkeypatch, HETREC)
    code, out, err = run(capsys, "hetrec-2k", "--to", str(tmp_path))
    assert code == 0, err
    data = Path(out.strip())
    assert data == tmp_path / "hetrec2011-lastfm-2k" and "SHA-256 verified" in err
    dataset = load(data)
    assert dataset.n_users == 6 and "Band 1" in list(dataset.item_names)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hetrec2011-lastfm-2k",
                                                          "hetrec2011-lastfm-2k.zip"]
    again = run(capsys, "hetrec-2k", "--to", str(tmp_path))
    assert again[0] == 0 and again[1] == out and "already downloaded" in again[2]
    assert server.ranges == [None]  # the second run fetched nothing


def test_a_cut_download_resumes_with_a_range_request(server, monkeypatch, capsys, tmp_path):
    serve(server, monkeypatch, HETREC)
    server.cut_after = 200
    code, out, err = run(capsys, "hetrec-2k", "--to", str(tmp_path))
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1
    assert "at 200 of" in err and "run again to resume" in err
    part = tmp_path / "hetrec2011-lastfm-2k.zip.part"
    assert part.stat().st_size == 200 and not (tmp_path / "hetrec2011-lastfm-2k").exists()
    code, out, err = run(capsys, "hetrec-2k", "--to", str(tmp_path))
    assert code == 0, err
    assert server.ranges == [None, "bytes=200-"]
    assert (tmp_path / "hetrec2011-lastfm-2k.zip").read_bytes() == HETREC and not part.exists()
    assert load(Path(out.strip())).n_users == 6


def test_a_bad_checksum_is_one_line_and_leaves_nothing(server, monkeypatch, capsys, tmp_path):
    serve(server, monkeypatch, HETREC, sha256="0" * 64)
    code, out, err = run(capsys, "hetrec-2k", "--to", str(tmp_path))
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1
    assert "not the expected " + "0" * 64 in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("member", ["../evil.txt", "/tmp/evil.txt", "sub/../../evil.txt"])
def test_a_member_outside_the_folder_is_refused(server, monkeypatch, capsys, tmp_path, member):
    serve(server, monkeypatch, zipped({"user_artists.dat": USER_ARTISTS, member: "pwned"}))
    target = tmp_path / "to"
    code, _, err = run(capsys, "hetrec-2k", "--to", str(target))
    assert code == 1 and "is not a safe archive" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "evil.txt").exists() and not (target / "hetrec2011-lastfm-2k").exists()
    assert [p.name for p in target.iterdir()] == ["hetrec2011-lastfm-2k.zip"]  # no scratch left


def tarred(members: dict[str, str], link: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            archive.addfile(info, io.BytesIO(text.encode()))
        if link:
            info = tarfile.TarInfo(link)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            archive.addfile(info)
    return buffer.getvalue()


def test_the_360k_tarball_unpacks_its_top_folder(server, monkeypatch, capsys, tmp_path):
    tsv = "".join(f"{user:040x}\t\tband {artist}\t{(artist + 1) * 7}\n"
                  for user in range(5) for artist in range(user + 1))
    top = "lastfm-dataset-360K/"
    serve(server, monkeypatch, tarred({top + "usersha1-artmbid-artname-plays.tsv": tsv,
                                       top + "README.txt": "readme"}), name="lastfm-360k")
    code, out, err = run(capsys, "lastfm-360k", "--to", str(tmp_path))
    assert code == 0, err
    assert Path(out.strip()) == tmp_path / top / "usersha1-artmbid-artname-plays.tsv"
    assert load(Path(out.strip())).n_users == 5


def test_a_link_in_a_tarball_is_refused(server, monkeypatch, capsys, tmp_path):
    top = "lastfm-dataset-360K/"
    serve(server, monkeypatch, tarred({top + "usersha1-artmbid-artname-plays.tsv": "x\t\ty\t1\n"},
                                      link=top + "passwd"), name="lastfm-360k")
    code, _, err = run(capsys, "lastfm-360k", "--to", str(tmp_path))
    assert code == 1 and "is a link or a device" in err
    assert not (tmp_path / "lastfm-dataset-360K").exists()


def test_the_wrong_archive_is_refused(server, monkeypatch, capsys, tmp_path):
    serve(server, monkeypatch, zipped({"something.txt": "else"}))
    code, _, err = run(capsys, "hetrec-2k", "--to", str(tmp_path))
    assert code == 1 and "holds no user_artists.dat" in err
    assert not (tmp_path / "hetrec2011-lastfm-2k").exists()


def test_an_unreachable_server_is_one_line(monkeypatch, capsys, tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    official = downloads.ARCHIVES["hetrec-2k"]
    monkeypatch.setitem(downloads.ARCHIVES, "hetrec-2k", dataclasses.replace(
        official, url=f"http://127.0.0.1:{port}/x.zip"))
    code, out, err = run(capsys, "hetrec-2k", "--to", str(tmp_path))
    assert code == 1 and out == "" and "cannot reach http://127.0.0.1" in err
    assert len(err.strip().splitlines()) == 1


def test_progress_is_reported_up_to_the_whole_size(server, monkeypatch, tmp_path):
    archive = serve(server, monkeypatch, HETREC)
    monkeypatch.setattr(downloads, "CHUNK", 256)
    seen: list[tuple[int, int | None]] = []
    downloads.download(archive, tmp_path, lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, len(HETREC)) and seen[-1] == (len(HETREC), len(HETREC))
    assert [done for done, _ in seen] == sorted(done for done, _ in seen) and len(seen) > 3


def test_the_official_archives_are_named():
    hetrec, big = downloads.ARCHIVES["hetrec-2k"], downloads.ARCHIVES["lastfm-360k"]
    assert hetrec.url == "https://files.grouplens.org/datasets/hetrec2011/hetrec2011-lastfm-2k.zip"
    assert len(hetrec.sha256) == 64
    assert big.url.endswith("/lastfm-dataset-360K.tar.gz") and "mtg.upf.edu" in big.url
    assert tuple(downloads.ARCHIVES) == cli.DOWNLOADABLE
