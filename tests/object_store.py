"""An in-process object store with Google Cloud Storage's rules, for keras_resnet.storage tests.

GCS's rules that matter to a writer, and how this fake keeps them:
- an object appears only when its upload closes, whole, replacing any object of that name
  (`upload` stores the bytes in one assignment at the end);
- there are no directories, only name prefixes (`makedirs` stores nothing; `isdir` is "some
  object has this prefix");
- there is no rename: `rename` is a copy and then a delete, two writes a kill can separate.

Every mutation (upload, remove, each half of a rename) is a numbered write. With `kill_at=N` the
N-th write raises `Killed` before it happens, as a SIGKILL landing between two writes would
(a kill during an upload is the same thing on GCS: an unclosed upload never appears). `Killed`
is a BaseException, so no `except Exception` in the code under test can swallow it. The
objects survive the "kill": the test then restarts the code on the same store.
"""

from __future__ import annotations

import contextlib

from keras_resnet.storage import files


class Killed(BaseException):
    """The process died here."""


class FakeObjectStore:
    def __init__(self, kill_at: int | None = None):
        self.objects: dict[str, bytes] = {}
        self.kill_at = kill_at
        self.writes = 0
        self.log: list[tuple[str, str]] = []  # (operation, path) of every write, in order
        self.reads: list[tuple[str, bytes]] = []  # (path, bytes returned)

    # --- writes -------------------------------------------------------------------------
    def _write(self, op: str, path: str) -> None:
        self.writes += 1
        if self.kill_at is not None and self.writes == self.kill_at:
            raise Killed(f"killed before write {self.writes}: {op} {path}")
        self.log.append((op, path))

    def upload(self, local: str, path: str) -> None:
        with open(local, "rb") as f:
            data = f.read()
        self._write("upload", path)
        self.objects[path] = data  # visible only now, whole

    def remove(self, path: str) -> None:
        if path not in self.objects:
            raise FileNotFoundError(path)
        self._write("remove", path)
        del self.objects[path]

    def rename(self, src: str, dst: str) -> None:
        """What gsutil mv and tf.io.gfile.rename do on GCS: copy, then delete."""
        self._write("copy", dst)
        self.objects[dst] = self.objects[src]
        self._write("remove", src)
        del self.objects[src]

    def rmtree(self, path: str) -> None:
        for name in [n for n in self.objects if n.startswith(path.rstrip("/") + "/")]:
            self.remove(name)

    def makedirs(self, path: str) -> None:
        pass  # no directories on GCS

    # --- reads --------------------------------------------------------------------------
    def exists(self, path: str) -> bool:
        return path in self.objects or self.isdir(path)

    def isdir(self, path: str) -> bool:
        prefix = path.rstrip("/") + "/"
        return any(n.startswith(prefix) for n in self.objects)

    def listdir(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        return sorted(
            {n[len(prefix) :].split("/")[0] for n in self.objects if n.startswith(prefix)}
        )

    def size(self, path: str) -> int:
        if path not in self.objects:
            raise FileNotFoundError(path)
        return len(self.objects[path])

    def read(self, path: str) -> bytes:
        if path not in self.objects:
            raise FileNotFoundError(path)
        self.reads.append((path, self.objects[path]))
        return self.objects[path]


@contextlib.contextmanager
def mounted(store: FakeObjectStore, scheme: str = "fake"):
    """Routes `fake://` paths (keras_resnet.storage.files) to `store` while in the block."""
    files.register(scheme, store)
    try:
        yield store
    finally:
        files.unregister(scheme)
