"""core.files: only regular files are opened and read, never blocking, never past the cap."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest
from shared import LABELS_FILE, MODELS_DIR
from special_files import SPECIAL_KINDS, finishes, special_file

from mobilenetv1_ros.core.errors import LabelsError, ModelError
from mobilenetv1_ros.core.files import check_regular_file, describe_mode, read_regular_file

#: Model and labels files are read this way on the board (`board`: test/conftest.py).
pytestmark = pytest.mark.board

BUNDLED_LABELS = LABELS_FILE
EXTRACTOR = MODELS_DIR / 'mobilenet_v1_1.0_224_quant_embedding_extractor.tflite'
NOBODY = 65534


def test_a_regular_file_is_read_whole_and_checked_with_its_size() -> None:
    data = EXTRACTOR.read_bytes()
    assert read_regular_file(EXTRACTOR, 'Model file', ModelError, len(data)) == data
    assert check_regular_file(EXTRACTOR, 'Model file', ModelError) == len(data)
    assert check_regular_file(str(EXTRACTOR), 'Model file', ModelError,
                              max_bytes=len(data)) == len(data)


def test_a_symbolic_link_to_a_regular_file_is_followed(tmp_path: Path) -> None:
    link = tmp_path / 'labels.json'
    link.symlink_to(BUNDLED_LABELS)
    assert read_regular_file(link, 'Labels file', LabelsError, 1 << 20) \
        == BUNDLED_LABELS.read_bytes()


@pytest.mark.parametrize('kind', sorted(SPECIAL_KINDS))
@pytest.mark.parametrize('read', [True, False], ids=['read', 'check'])
def test_special_files_are_refused_at_once_saying_what_they_are(tmp_path: Path, kind: str,
                                                                read: bool) -> None:
    with special_file(kind, tmp_path) as path:
        if read:
            outcome = finishes(lambda: read_regular_file(path, 'Labels file', LabelsError,
                                                         1 << 20))
        else:
            outcome = finishes(lambda: check_regular_file(path, 'Model file', ModelError))
    error = outcome.error
    assert isinstance(error, LabelsError if read else ModelError), outcome
    what = 'Labels file' if read else 'Model file'
    assert str(error).startswith(f'{what} {path}')
    assert f'{SPECIAL_KINDS[kind]}, not a regular file' in str(error)
    if kind == 'symlink_to_directory':
        assert f'(a symbolic link to {tmp_path / "a_directory"})' in str(error)


def test_describe_mode_names_every_kind(tmp_path: Path) -> None:
    assert describe_mode(os.stat(EXTRACTOR).st_mode) == 'a regular file'
    for kind, says in SPECIAL_KINDS.items():
        with special_file(kind, tmp_path) as path:
            assert f'is {describe_mode(os.stat(path).st_mode)}' == says


def test_paths_that_do_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / 'missing.json'
    with pytest.raises(LabelsError, match=f'^Labels file {missing} does not exist$'):
        read_regular_file(missing, 'Labels file', LabelsError, 100)
    dangling = tmp_path / 'dangling.json'
    dangling.symlink_to(missing)
    with pytest.raises(LabelsError, match=f'{dangling} does not exist '
                                          f'\\(a symbolic link to the missing {missing}\\)'):
        read_regular_file(dangling, 'Labels file', LabelsError, 100)
    under_file = tmp_path / 'file' / 'labels.json'
    (tmp_path / 'file').write_text('x')
    with pytest.raises(ModelError, match=f'{under_file} does not exist \\(a component'):
        check_regular_file(under_file, 'Model file', ModelError)
    loop = tmp_path / 'loop.onnx'
    loop.symlink_to(loop)
    with pytest.raises(ModelError, match=f'{loop} is a loop of symbolic links'):
        check_regular_file(loop, 'Model file', ModelError)


def test_a_huge_sparse_file_is_refused_by_its_size_without_reading(tmp_path: Path) -> None:
    huge = tmp_path / 'huge.json'
    with open(huge, 'wb') as stream:
        stream.truncate(1 << 40)
    start = time.perf_counter()
    with pytest.raises(LabelsError, match=f'{huge} is {1 << 40} bytes, more than the 1000 '
                                          'bytes allowed'):
        read_regular_file(huge, 'Labels file', LabelsError, 1000)
    with pytest.raises(ModelError, match=f'is {1 << 40} bytes'):
        check_regular_file(huge, 'Model file', ModelError, max_bytes=1000)
    # Reading a terabyte of zeros would take minutes: refusing it takes no reading at all.
    assert time.perf_counter() - start < 1.0
    assert check_regular_file(huge, 'Model file', ModelError) == 1 << 40


def test_the_cap_is_exact(tmp_path: Path) -> None:
    path = tmp_path / 'labels.txt'
    path.write_bytes(b'x' * 100)
    assert read_regular_file(path, 'Labels file', LabelsError, 100) == b'x' * 100
    with pytest.raises(LabelsError, match='is 100 bytes, more than the 99 bytes allowed'):
        read_regular_file(path, 'Labels file', LabelsError, 99)


def test_a_file_reporting_size_zero_is_read_up_to_the_cap() -> None:
    # Files in /proc report a size of 0: only the bytes actually read count.
    status = Path('/proc/self/status')
    assert os.stat(status).st_size == 0
    text = read_regular_file(status, 'Labels file', LabelsError, 1 << 20).decode()
    assert text.startswith('Name:')
    with pytest.raises(LabelsError, match='/proc/self/status holds more than the 10 bytes '
                                          'allowed'):
        read_regular_file(status, 'Labels file', LabelsError, 10)


def test_empty_files(tmp_path: Path) -> None:
    empty = tmp_path / 'empty.onnx'
    empty.touch()
    assert read_regular_file(empty, 'Labels file', LabelsError, 10) == b''
    assert check_regular_file(empty, 'Model file', ModelError) == 0
    with pytest.raises(ModelError, match=f'^Model file {empty} is empty$'):
        check_regular_file(empty, 'Model file', ModelError, allow_empty=False)
    with pytest.raises(LabelsError, match=f'^Labels file {empty} is empty$'):
        read_regular_file(empty, 'Labels file', LabelsError, 10, allow_empty=False)


def _read_as_nobody(*paths: Path) -> list[str]:
    """The errors of reading `paths` as an unprivileged user (root may read every file).

    A forked child drops to nobody, so it runs this very code without needing to reach the
    interpreter or the repository as that user.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report the messages, never return into pytest
        code = 0
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            lines = []
            for path in paths:
                try:
                    read_regular_file(path, 'Model file', ModelError, 100)
                    lines.append(f'{path} was read')
                except ModelError as error:
                    lines.append(str(error))
            os.write(write_end, '\n'.join(lines).encode())
        except BaseException:  # noqa: BLE001 - the exit code tells the parent
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, 'rb') as stream:
        output = stream.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return output.splitlines()


def test_unreadable_files_are_named() -> None:
    # tmp_path is private to this user, so the files live in a directory anyone can enter.
    with tempfile.TemporaryDirectory(prefix='mobilenetv1_ros-files-') as name:
        directory = Path(name)
        directory.chmod(0o755)
        unreadable = directory / 'unreadable.onnx'
        unreadable.write_bytes(b'model')
        unreadable.chmod(0)
        closed = directory / 'closed'
        closed.mkdir(mode=0o700)
        hidden = closed / 'model.onnx'
        hidden.write_bytes(b'model')
        closed.chmod(0)
        if os.geteuid() != 0:
            messages = []
            for path in (unreadable, hidden):
                with pytest.raises(ModelError) as caught:
                    read_regular_file(path, 'Model file', ModelError, 100)
                messages.append(str(caught.value))
        else:
            messages = _read_as_nobody(unreadable, hidden)
        closed.chmod(0o700)
    assert messages == [
        f'Model file {unreadable} is not readable (permission denied)',
        f'Model file {hidden} is not readable (permission denied on a directory of the path)',
    ]
