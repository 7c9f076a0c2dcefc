"""A real full disk: the run's workdir on a small tmpfs (mounted in a private user and mount
namespace, so no root is needed and nothing outside the test sees it), filled up just before
the second backup by KERAS_RESNET_FAULT=backup:2:fill. The kernel's ENOSPC must end the run
with one line naming the file and the last good backup, which stays intact; after space is
freed the rerun resumes from it and finishes.

The namespace, and the tmpfs with it, lives as long as one shell: the script below runs both
trainings in it and copies the workdir out after each for the assertions.
"""

import os
import re
import shutil
import subprocess

import pytest

from tests import reliability_utils as u

SCRIPT = """
set -u
mount -t tmpfs -o size=64m keras_resnet_test "$MNT" || exit 97
cd "$ROOT"
KERAS_RESNET_FAULT=backup:2:fill "$@" >"$OUT/full.out" 2>"$OUT/full.err"
echo $? >"$OUT/full.rc"
cp -a "$MNT/run" "$OUT/after_full"
rm -f "$MNT"/run/backup/.fault-ballast
"$@" >"$OUT/rerun.out" 2>"$OUT/rerun.err"
echo $? >"$OUT/rerun.rc"
cp -a "$MNT/run" "$OUT/final"
"""


def _namespaces_work():
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs none /mnt && umount /mnt"],
        capture_output=True,
    )
    return probe.returncode == 0


def _read(out, name):
    with open(os.path.join(out, name)) as f:
        return f.read()


@pytest.mark.skipif(not _namespaces_work(), reason="needs unshare -rm and a tmpfs mount")
def test_full_disk_stops_with_one_line_and_keeps_last_good_backup(tmp_path):
    mnt, out = tmp_path / "mnt", tmp_path / "out"
    mnt.mkdir()
    out.mkdir()
    env = {**u.ENV, "MNT": str(mnt), "OUT": str(out), "ROOT": u.ROOT}
    cmd = u.main_cmd(f"{mnt}/run")
    proc = subprocess.run(
        ["unshare", "-rm", "sh", "-c", SCRIPT, "sh", *cmd],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr

    # The full disk: exit 2, one line, the file named, the last good backup named and intact.
    stderr = _read(out, "full.err")
    assert _read(out, "full.rc").strip() == "2", stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    line = u.last_line(stderr)
    backup = f"{mnt}/run/backup"
    assert re.fullmatch(
        rf"keras-resnet-train: error: disk full while writing {backup}/ckpt-00000006\.weights\.h5 \(\[Errno 28\] .*\); "
        rf"removed its partial temporary file, deleted nothing else; last good backup "
        rf"{backup}/ckpt-00000004\.weights\.h5 \(step 4\)\. Free some space and rerun the same "
        r"command to resume\.",
        line,
    ), line
    after = str(out / "after_full")
    u.check_intact(after)
    assert sorted(u.committed_backups(after)) == [4]
    assert not [f for f in os.listdir(f"{after}/backup") if "tmp" in f]

    # Space freed: the rerun resumes from step 4 and finishes, metrics continuous.
    assert _read(out, "rerun.rc").strip() == "0", _read(out, "rerun.err")[-3000:]
    assert "resuming at step 4 " in _read(out, "rerun.err")
    final = str(out / "final")
    u.check_continuous(final, **u.TINY)
    u.check_intact(final)
    assert u.read_results(final)["steps"] == u.TINY["total_steps"]
